"""The Chalice app: wiring only. Routes and functions live in chalicelib/<capability>/."""

from chalice import Chalice

from chalicelib.admin.events import bp as admin_functions
from chalicelib.attachments.events import bp as attachment_functions
from chalicelib.attachments.routes import bp as attachment_routes
from chalicelib.audit.routes import bp as audit_routes
from chalicelib.auth.routes import bp as auth_routes
from chalicelib.birthdays.events import bp as birthday_functions
from chalicelib.cases.board_routes import bp as board_routes
from chalicelib.cases.events import bp as case_functions
from chalicelib.cases.routes import bp as case_routes
from chalicelib.cases.staff_routes import bp as staff_case_routes
from chalicelib.clinics.routes import bp as clinic_routes
from chalicelib.contacts.routes import bp as contact_routes
from chalicelib.core.http import error_middleware
from chalicelib.core.observability import lambda_context
from chalicelib.core.openapi import docs
from chalicelib.eservices.routes import bp as eservice_routes
from chalicelib.forms.routes import bp as form_routes
from chalicelib.health_declarations.events import bp as health_declaration_functions
from chalicelib.health_declarations.routes import bp as health_declaration_routes
from chalicelib.inbox.routes import bp as inbox_routes
from chalicelib.notices.events import bp as notice_functions
from chalicelib.notices.routes import bp as notice_routes
from chalicelib.notifications.events import bp as notification_functions
from chalicelib.prescriptions.routes import bp as prescription_routes
from chalicelib.registry_events.events import bp as population_functions
from chalicelib.registry_events.routes import bp as population_routes
from chalicelib.self_sampling.routes import bp as self_sampling_routes
from chalicelib.settings.routes import bp as settings_routes
from chalicelib.web_booking.events import bp as web_booking_functions
from chalicelib.web_booking.routes import bp as web_booking_routes

app = Chalice(app_name="e-services")
app.register_middleware(lambda_context, "all")
app.register_middleware(error_middleware, "http")
# The health declaration's PDF is answered as bytes: Chalice base64-encodes such bodies and `chalice
# package` lists the type in API Gateway's binaryMediaTypes.
app.api.binary_types.append("application/pdf")

for blueprint in (
    docs,
    auth_routes,
    clinic_routes,
    inbox_routes,
    case_routes,
    staff_case_routes,
    attachment_routes,
    audit_routes,
    settings_routes,
    contact_routes,
    notice_routes,
    web_booking_routes,
    board_routes,
    form_routes,
    health_declaration_routes,
    prescription_routes,
    self_sampling_routes,
    eservice_routes,
    population_routes,
    admin_functions,
    attachment_functions,
    case_functions,
    notification_functions,
    notice_functions,
    birthday_functions,
    population_functions,
    web_booking_functions,
    health_declaration_functions,
):
    app.register_blueprint(blueprint)
