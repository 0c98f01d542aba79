"""A developer's machine and `make demo`: DEBUG on unless said otherwise."""

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = env_bool("DEBUG", True)
