"""The Chalice app: wiring only. Routes and functions live in chalicelib/<capability>/."""

from chalice import Chalice

from chalicelib.accounts.routes import bp as accounts_routes
from chalicelib.admin.events import bp as admin_functions
from chalicelib.auth.routes import bp as auth_routes
from chalicelib.core.http import error_middleware
from chalicelib.core.openapi import docs

app = Chalice(app_name="e-services")
app.experimental_feature_flags.update({"BLUEPRINTS"})
app.register_middleware(error_middleware, "http")

app.register_blueprint(docs)
app.register_blueprint(auth_routes)
app.register_blueprint(accounts_routes)
app.register_blueprint(admin_functions)
