"""Accounts: the users of a company (Brukere), Min profil and the set-password page."""

from app.views.accounts.profile import PasswordLinkView, ProfileView
from app.views.accounts.users import CompanyUserView, PortalUserDBModelView

__all__ = ["CompanyUserView", "PasswordLinkView", "PortalUserDBModelView", "ProfileView"]
