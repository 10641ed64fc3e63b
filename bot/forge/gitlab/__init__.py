"""The forge on GitLab, through python-gitlab: the one implementation of bot.forge.Forge."""

from bot.forge.gitlab.client import GitLabForge

__all__ = ["GitLabForge"]
