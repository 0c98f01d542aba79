"""`Authorization: Bearer <token>` for service accounts and people (DOMAIN.md 7.4)."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from portfolio.models import ApiToken
from portfolio.services import token_authenticate


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("the Authorization header is malformed"))
        token = token_authenticate(raw=header[1].decode("latin-1"))
        if token is None:
            raise exceptions.AuthenticationFailed(_("unknown or revoked token"))
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword


class HasScope(permissions.BasePermission):
    """A token must carry one of the view's `required_scope` (a scope, a tuple of
    them, or a dict of those per HTTP method); a signed-in person is judged
    by role alone (the selectors scope what the role may see)."""

    message = _("this token does not carry the scope this endpoint needs")

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        token = request.auth
        if isinstance(token, ApiToken):
            required = getattr(view, "required_scope", None)
            if isinstance(required, dict):  # per method: {"GET": "x:read", "POST": …}
                required = required.get(request.method)
            required = (required,) if isinstance(required, str) else tuple(required or ())
            return any(scope in token.scopes for scope in required)
        return True


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """One budget per token (a person signed in: per person; anonymous: per address),
    counted in the shared cache so that every web process sees the same count."""

    scope = "token"

    def get_rate(self) -> str:
        return settings.SEMAFORO["API_RATE"]

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return f"throttle_{self.scope}_{ident}"


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}
