from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        # The strategy validator warns about templates not written yet (DOMAIN.md 7.2);
        # the store is ours, so we tell strategy where to read it (no import back).
        from notifications.selectors import template_channels
        from strategy.selectors import template_source_register

        template_source_register(template_channels)
