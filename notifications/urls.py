from django.urls import path

from notifications import views

urlpatterns = [
    path("twilio/status/", views.twilio_status, name="twilio-status"),
    path("twilio/inbound/", views.twilio_inbound, name="twilio-inbound"),
    path("twilio/voice/<int:message_id>/", views.twilio_voice, name="twilio-voice"),
    path(
        "twilio/voice/<int:message_id>/identity/",
        views.twilio_voice_identity,
        name="twilio-voice-identity",
    ),
    path("twilio/voice/<int:message_id>/key/", views.twilio_voice_key, name="twilio-voice-key"),
]
