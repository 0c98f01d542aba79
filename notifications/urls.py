from django.urls import path

from notifications import views

urlpatterns = [
    path("twilio/status/", views.twilio_status, name="twilio-status"),
    path("twilio/inbound/", views.twilio_inbound, name="twilio-inbound"),
]
