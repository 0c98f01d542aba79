from django.urls import path

from commissions.statements import views

urlpatterns = [
    path("", views.commissions_page, name="commissions"),
    path("targets/", views.targets_page, name="commission-targets"),
]
