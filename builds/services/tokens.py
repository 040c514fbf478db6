"""API tokens: one per user, shown once when made; only a hash is stored, so a leaked
database does not leak working tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from builds.models import ApiToken

TOKEN_PREFIX = "xc_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_user(*, username: str) -> AbstractBaseUser:
    """The user `username`, made when missing as an account for scripts: no password to sign
    in with, no staff rights, only what its API token allows.
    """
    model = get_user_model()
    user, created = model.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def issue_token(*, user: AbstractBaseUser) -> str:
    """A new token for `user`, replacing any earlier one; returns the token itself."""
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.update_or_create(
        user=user, defaults={"key_hash": _hash(key), "prefix": key[:10]}
    )
    return key


def revoke_token(*, user: AbstractBaseUser) -> bool:
    return bool(ApiToken.objects.filter(user=user).delete()[0])


def user_for_token(key: str) -> AbstractBaseUser | None:
    """The active user a token belongs to, or None; records when the token was last used."""
    if not key.startswith(TOKEN_PREFIX) or len(key) > 100:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=_hash(key)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    # A CI job polls several times a second: record the use at most once a minute, so that
    # reads stay reads (on SQLite every write takes the database's one write lock).
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
