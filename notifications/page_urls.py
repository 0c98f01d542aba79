from django.urls import path

from notifications import pages

urlpatterns = [
    path("templates/", pages.templates_page, name="message-templates"),
    path("templates/new/", pages.template_edit_page, name="message-template-new"),
    path("templates/<str:name>/", pages.template_edit_page, name="message-template"),
    path("letters/", pages.letters_page, name="letters"),
    path("letters/delivered/", pages.letter_delivered, name="letter-delivered"),
]
