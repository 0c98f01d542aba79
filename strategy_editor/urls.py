from django.urls import path

from strategy_editor import views

urlpatterns = [
    path("", views.index_page, name="strategy-editor"),
    path("drafts/<int:pk>/", views.draft_page, name="strategy-draft"),
    path("drafts/<int:pk>/sections/<str:section>/", views.section_page, name="strategy-section"),
    path("drafts/<int:pk>/preview/", views.preview_page, name="strategy-preview"),
    path("drafts/<int:pk>/publish/", views.publish_page, name="strategy-publish"),
    path("versions/<int:number>/", views.version_page, name="strategy-version"),
]
