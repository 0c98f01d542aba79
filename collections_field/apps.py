from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CollectionsFieldConfig(AppConfig):
    name = "collections_field"
    verbose_name = _("Collections work")
