"""Alarms on the app's own metrics (namespace EServices, published with Powertools) and the operator's
dashboard."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.parts import Namespace
from infra.parts.api import ApiEdge
from infra.parts.data import APP_NAME, BOOKING_SYSTEMS, METRICS_NAMESPACE, DataResources
from infra.parts.functions import Functions

# The app's notification metrics, by what became of a notification (chalicelib/notifications/events.py).
NOTIFICATION_STATUS_METRICS = (
    "ArrivalsQueued",  # inbox_events: arrivals put on the queue
    "NotificationsSent",  # send_notifications: handed to SES/SNS
    "NotificationDeliveryFailures",  # the provider refused or reported a failed delivery
    "NotificationsRequeued",  # the sweeper took up one stuck before sending
    "NotificationsAbandoned",  # given up after the retries
    "ArrivalsReconciled",  # the sweeper completed an arrival that had none
)
DASHBOARD_PERIOD = cdk.Duration.minutes(5)
# Web booking (issue 11): failed calls to one booking system (transport errors, 5xx, timeouts; metric
# BookingSystemError, dimension System) in 5 minutes before its alarm fires. A few are expected (a retry
# covers them); this many means the system or the way to it is down.
BOOKING_SYSTEM_ERRORS_ALARM = 5
# Bookings left in between (BookingReconcileBacklog, a gauge per reconcile_bookings run) for this long.
BOOKING_BACKLOG_ALARM_PERIODS = 3  # of 5 minutes: 15 minutes

# Metrics the notification sweeper publishes (issue 7, defect 8) -> alarm description.
SWEEPER_ALARMS: dict[str, str] = {
    "ArrivalsReconciled": "The sweeper completed inbox arrivals that had no notifications: inbox_events lost "
    "work (crash, DLQ, stream mapping). Check its errors and the stream failure queue.",
    "NotificationsRequeued": "The sweeper re-queued notifications stuck before sending: send_notifications or "
    "the queue lost messages. Check its errors, throttling and the notifications DLQ.",
}


def app_metric(
    metric_name: str, *, period: cdk.Duration, statistic: str = "Sum", dimensions: Mapping[str, str] | None = None
) -> cloudwatch.Metric:
    """One of the app's metrics; Powertools adds the service dimension to every metric it publishes, next to
    the metric's own `dimensions` (an alarm matches the full set only)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"service": APP_NAME, **(dimensions or {})},
        statistic=statistic,
        period=period,
    )


class Monitoring(Namespace):
    """Alarms on the app's metrics and the operator's dashboard `e-services-<stage>`: the API, notifications
    by status, queue depths and dead letters, overdue cases, web booking, and the functions' errors and
    throttles."""

    def __init__(
        self, scope: Construct, construct_id: str, *, data: DataResources, functions: Functions, api: ApiEdge
    ) -> None:
        super().__init__(scope, construct_id)
        # cases past their due time (published by count_overdue every 15 minutes).
        data.alarm(
            "OverdueCases",
            app_metric("OverdueCases", period=cdk.Duration.minutes(15), statistic="Maximum"),
            "Cases are past their response time (R-20): clinics should answer; see GET "
            "/staff/clinics/{clinicId}/cases?status=overdue.",
        )
        # Issue 7, defect 8: the notification sweeper repairs what the outbox path left undone. Anything
        # it finds means a step failed or a process died mid-way: look before it becomes a pattern.
        for metric_name, description in SWEEPER_ALARMS.items():
            data.alarm(metric_name, app_metric(metric_name, period=cdk.Duration.minutes(15)), description)
        self._web_booking_alarms(data)
        self.dashboard = self._dashboard(data, functions, api)

    @staticmethod
    def _web_booking_alarms(data: DataResources) -> None:
        """Issue 11: one alarm per booking system on its failed calls, and one on bookings left in between."""
        for system in BOOKING_SYSTEMS:
            data.alarm(
                f"BookingSystemErrors{system}",
                app_metric("BookingSystemError", period=cdk.Duration.minutes(5), dimensions={"System": system}),
                f"Calls to {system} failed (transport errors, 5xx, timeouts) {BOOKING_SYSTEM_ERRORS_ALARM} or more "
                f"times in 5 minutes: web booking at its clinics is failing. Check {system}'s status, its URL and "
                "API key in the booking-systems secret, and api_handler's logs.",
                threshold=BOOKING_SYSTEM_ERRORS_ALARM,
            )
        data.alarm(
            "BookingReconcileBacklog",
            app_metric("BookingReconcileBacklog", period=cdk.Duration.minutes(5), statistic="Maximum"),
            "Bookings stayed in between (a booking-system call neither confirmed nor dropped) for 15 minutes: "
            "reconcile_bookings cannot settle them. Check its logs and errors and the BookingSystemErrors alarms.",
            evaluation_periods=BOOKING_BACKLOG_ALARM_PERIODS,
        )

    def _dashboard(self, data: DataResources, functions: Functions, api: ApiEdge) -> cloudwatch.Dashboard:
        period = DASHBOARD_PERIOD

        def graph(title: str, metrics: list[cloudwatch.IMetric], **kwargs: object) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=metrics, width=12, height=6, **kwargs)  # type: ignore[arg-type]

        def labelled(metric: cloudwatch.Metric, label: str) -> cloudwatch.IMetric:
            return metric.with_(label=label)

        dead_letters = {f"{q}Dlq": dlq for q, dlq in data.dead_letter_queues.items()} | data.failure_queues
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{APP_NAME}-{data.stage}",
            default_interval=cdk.Duration.hours(3),
        )
        dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=f"# {APP_NAME} {data.stage}\nAlarms go to the topic `{APP_NAME}-{data.stage}-alarms`; "
                "runbooks in docs/runbooks/. No personal data in any metric.",
                width=24,
                height=2,
            )
        )
        dashboard.add_widgets(
            graph(
                "API requests and errors",
                [
                    labelled(api.metric("Count", period=period), "requests"),
                    labelled(api.metric("4XXError", period=period), "4xx"),
                    labelled(api.metric("5XXError", period=period), "5xx"),
                ],
            ),
            graph(
                "API latency (ms)",
                [
                    labelled(api.metric("Latency", period=period, statistic="p50"), "p50"),
                    labelled(api.metric("Latency", period=period, statistic="p99"), "p99"),
                    labelled(api.metric("IntegrationLatency", period=period, statistic="p99"), "integration p99"),
                ],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Notifications by status",
                [labelled(app_metric(name, period=period), name) for name in NOTIFICATION_STATUS_METRICS],
            ),
            graph(
                "Overdue cases (R-20)",
                [labelled(app_metric("OverdueCases", period=cdk.Duration.minutes(15), statistic="Maximum"), "overdue")],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Queue depth and oldest message (s)",
                [
                    labelled(
                        queue.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum"),
                        f"{queue_id} visible",
                    )
                    for queue_id, queue in data.queues.items()
                ],
                right=[
                    labelled(
                        queue.metric_approximate_age_of_oldest_message(period=period, statistic="Maximum"),
                        f"{queue_id} oldest",
                    )
                    for queue_id, queue in data.queues.items()
                ],
            ),
            graph(
                "Dead-letter and on-failure queues",
                [
                    labelled(
                        queue.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum"),
                        queue_id,
                    )
                    for queue_id, queue in sorted(dead_letters.items())
                ],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Booking systems: failed calls",
                [
                    labelled(app_metric("BookingSystemError", period=period, dimensions={"System": system}), system)
                    for system in BOOKING_SYSTEMS
                ],
            ),
            graph(
                "Web bookings reconciled and left in between",
                [
                    labelled(app_metric("BookingsReconciled", period=period), "reconciled"),
                    labelled(app_metric("BookingReconcileBacklog", period=period, statistic="Maximum"), "in between"),
                ],
            ),
        )
        names = sorted(functions.names)
        dashboard.add_widgets(
            graph("Function errors", [labelled(functions.metric(n, "Errors", period=period), n) for n in names]),
            graph("Function throttles", [labelled(functions.metric(n, "Throttles", period=period), n) for n in names]),
        )
        return dashboard
