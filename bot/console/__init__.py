"""The agent console (人工客服工作台): a Sanic app for agents and supervisors."""
from bot.console.app import create_app

__all__ = ["create_app"]
