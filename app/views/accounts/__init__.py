"""Accounts: the users of a company (Brukere), Min profil, its two-factor login page and the
set-password page."""

from app.views.accounts.mfa import MfaView, enforce_enrolment
from app.views.accounts.profile import PasswordLinkView, ProfileView
from app.views.accounts.users import CompanyUserView, PortalUserDBModelView

__all__ = [
    "CompanyUserView",
    "MfaView",
    "PasswordLinkView",
    "PortalUserDBModelView",
    "ProfileView",
    "enforce_enrolment",
]
