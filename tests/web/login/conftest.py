"""The login tests' real user-manager, OpenID Connect provider and GitHub stand-in."""

from tests.gateway_login.conftest import (  # noqa: F401 - fixtures used here
    browser,
    github,
    github_gateway,
    oidc_gateway,
    oidc_provider,
    user_manager_url,
)
