from django.urls import path

from commissions.refinancing import views

urlpatterns = [
    path(
        "cases/<str:client_code>/refinancing/",
        views.simulator_page,
        name="refinancing-simulator",
    ),
    path(
        "cases/<str:client_code>/refinancing/schedule.pdf",
        views.simulation_pdf,
        name="refinancing-simulation-pdf",
    ),
    path("refinancing/requests/", views.requests_page, name="refinancing-requests"),
    path(
        "refinancing/requests/<int:request_id>/",
        views.request_page,
        name="refinancing-request",
    ),
    path(
        "refinancing/requests/<int:request_id>/schedule.pdf",
        views.request_pdf,
        name="refinancing-request-pdf",
    ),
]
