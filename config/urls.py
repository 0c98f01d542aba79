from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from collections_field import views as field_views
from portfolio import views as portfolio_views

urlpatterns = [
    path("", portfolio_views.home, name="home"),
    path("cases/<str:client_code>/", field_views.case_page, name="case"),
    path("", include("commissions.refinancing.urls")),
    path("clients/", field_views.search_page, name="client-search"),
    path("today/", field_views.worklist_page, name="worklist"),
    path("escalations/", field_views.escalation_page, name="escalations"),
    path("dashboard/", field_views.dashboard_page, name="dashboard"),
    path("dashboard/cases/", field_views.dashboard_cases_page, name="dashboard-cases"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("audit/", include("audit.urls")),
    # msgs: the gerente's templates and the day's letters
    path("", include("notifications.page_urls")),
    path("exonerations/", include("commissions.exonerations.urls")),
    path("commissions/", include("commissions.statements.urls")),
    path("strategy/", include("strategy_editor.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api")),
    # Provider callbacks (signed by the provider; not part of the documented API).
    path("webhooks/", include("notifications.urls")),
    # The contract is public; the data behind it is not.
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    # Swagger UI from local static files; its script is a separate file (CSP: no inline).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", permission_classes=[AllowAny]),
        name="api-docs",
    ),
]
