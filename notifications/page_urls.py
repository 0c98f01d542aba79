from django.urls import path

from notifications import pages

urlpatterns = [
    path("templates/", pages.templates_page, name="message-templates"),
    path("templates/new/", pages.template_edit_page, name="message-template-new"),
    path("templates/<str:name>/", pages.template_edit_page, name="message-template"),
    path("letters/", pages.letters_page, name="letters"),
    path("letters/delivered/", pages.letter_delivered, name="letter-delivered"),
    # The client's messages (gate decisions, status changes, replies).
    path("cases/<str:client_code>/messages/", pages.case_messages_page, name="case-messages"),
    # Productivity per channel: the dashboards' panel's export and drill-downs.
    path("dashboard/productivity/", pages.productivity_export, name="productivity-export"),
    path("dashboard/productivity/cases/", pages.productivity_cases_page, name="productivity-cases"),
]
