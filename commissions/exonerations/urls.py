from django.urls import path

from commissions.exonerations import views

urlpatterns = [
    path("", views.exonerations_page, name="exonerations"),
    path("new/", views.exoneration_new_page, name="exoneration-new"),
]
