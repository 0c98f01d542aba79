from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StrategyEditorConfig(AppConfig):
    name = "strategy_editor"
    verbose_name = _("Strategy editor")
