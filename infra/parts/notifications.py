"""R-11/R-12 around the functions: the SES configuration set and its encrypted events topic, SMS
delivery status logs, both feeding the delivery-report function; alarms on SMS spend and failed
deliveries."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.parts import Namespace
from infra.parts.data import APP_NAME, LOG_RETENTION, METRICS_NAMESPACE, DataResources, removal_policy
from infra.parts.functions import Functions, chalice_logical_id

DEFAULT_NOTIFICATION_FROM_EMAIL = "no-reply@e-tjanster.example"  # chalicelib/notifications/text.py
SMS_MONTHLY_SPEND_ALARM_USD = 200


def ses_configuration_set_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}-notifications"


class Notifications(Namespace):
    """Present only when some function sends or takes delivery reports (`Notifications.needed`)."""

    @staticmethod
    def needed(functions: Functions) -> bool:
        return any(f.delivery_feedback or f.sends_sms or f.sends_email for f in functions.functions.values())

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data: DataResources,
        functions: Functions,
        sms_spend_alarm_usd: float = SMS_MONTHLY_SPEND_ALARM_USD,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        stage = data.stage
        feedback = [name for name, f in functions.functions.items() if f.delivery_feedback]
        # SES events name recipients' addresses: the topic is encrypted with the data key, which
        # SES may use for this account's publishes only.
        data.data_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SesEventsToEncryptedTopic",
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        topic = sns.Topic(
            self,
            "SesEventsTopic",
            topic_name=f"{APP_NAME}-{stage}-ses-events",
            master_key=data.data_key,
            enforce_ssl=True,
        )
        configuration_set = ses.ConfigurationSet(
            self,
            "NotificationsConfigurationSet",
            configuration_set_name=ses_configuration_set_name(stage),
            reputation_metrics=True,
            sending_enabled=True,
        )
        configuration_set.add_event_destination(
            "ToFeedbackTopic",
            destination=ses.EventDestination.sns_topic(topic),
            events=[
                ses.EmailSendingEvent.DELIVERY,
                ses.EmailSendingEvent.BOUNCE,
                ses.EmailSendingEvent.COMPLAINT,
                ses.EmailSendingEvent.REJECT,
                ses.EmailSendingEvent.RENDERING_FAILURE,
            ],
        )
        # SNS writes SMS delivery status to these log groups once the account's SMS preferences name
        # the delivery status role below (docs/architecture.md, Notifications: one CLI call per account).
        status_role = iam.Role(
            self,
            "SmsDeliveryStatusRole",
            assumed_by=iam.ServicePrincipal("sns.amazonaws.com"),
            description="SNS: writes SMS delivery status logs (AWS account SMS preference DeliveryStatusIAMRole)",
        )
        # The logs name the destination number: encrypted with the ops key, like the functions' logs.
        data.ops_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsForSmsDeliveryStatus",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": cdk.Fn.sub(
                            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                            "sns/${AWS::Region}/${AWS::AccountId}/DirectPublishToPhoneNumber*"
                        )
                    }
                },
            )
        )
        sms_log_groups = []
        for suffix, group_id in (("", "SmsDeliveryLogs"), ("/Failure", "SmsDeliveryFailureLogs")):
            group = logs.LogGroup(
                self,
                group_id,
                log_group_name=cdk.Fn.sub("sns/${AWS::Region}/${AWS::AccountId}/DirectPublishToPhoneNumber" + suffix),
                retention=LOG_RETENTION,
                encryption_key=data.ops_key,
                removal_policy=removal_policy(stage),
            )
            status_role.add_to_policy(
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[group.log_group_arn]
                )
            )
            sms_log_groups.append(group)
        cdk.CfnOutput(self, "SmsDeliveryStatusRoleArn", value=status_role.role_arn)
        for name in feedback:
            cfn_name = chalice_logical_id(name)
            function_arn = cdk.Fn.sub(
                "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + functions.names[name]
            )
            fn = functions.resource(name)
            permission = self._invoke_permission(
                functions.names[name], f"{cfn_name}SesEventsInvoke", "sns.amazonaws.com", topic.topic_arn
            )
            permission.node.add_dependency(fn)
            subscription = sns.Subscription(
                self,
                f"{cfn_name}SesEvents",
                topic=topic,
                protocol=sns.SubscriptionProtocol.LAMBDA,
                endpoint=function_arn,
            )
            subscription.node.add_dependency(permission)
            for index, group in enumerate(sms_log_groups):
                permission = self._invoke_permission(
                    functions.names[name], f"{cfn_name}SmsLogsInvoke{index}", "logs.amazonaws.com", group.log_group_arn
                )
                permission.node.add_dependency(fn)
                subscription_filter = logs.CfnSubscriptionFilter(
                    self,
                    f"{cfn_name}SmsLogs{index}",
                    log_group_name=group.log_group_name,
                    filter_pattern="",
                    destination_arn=function_arn,
                )
                subscription_filter.node.add_dependency(permission)
        # SMS cost: AWS/SNS publishes the month's SMS spend (USD) account-wide.
        spend = cloudwatch.Alarm(
            self,
            "SmsMonthlySpend",
            alarm_name=f"{APP_NAME}-{stage}-SmsMonthlySpend",
            alarm_description=f"SMS spend this month passed {sms_spend_alarm_usd} USD: check for a loop or abuse.",
            metric=cloudwatch.Metric(
                namespace="AWS/SNS",
                metric_name="SMSMonthToDateSpentUSD",
                statistic="Maximum",
                period=cdk.Duration.minutes(5),
            ),
            threshold=sms_spend_alarm_usd,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        spend.add_alarm_action(cw_actions.SnsAction(data.alarm_topic))
        # many failed deliveries at once point at the provider or the texts, not at citizens.
        failures = cloudwatch.Alarm(
            self,
            "NotificationDeliveryFailures",
            alarm_name=f"{APP_NAME}-{stage}-NotificationDeliveryFailures",
            alarm_description="Many notifications failed within an hour: check SES/SNS and the delivery logs.",
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="NotificationDeliveryFailures",
                dimensions_map={"service": APP_NAME},
                statistic="Sum",
                period=cdk.Duration.hours(1),
            ),
            threshold=50,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        failures.add_alarm_action(cw_actions.SnsAction(data.alarm_topic))

    def _invoke_permission(
        self, function_name: str, construct_id: str, principal: str, source_arn: str
    ) -> lambda_.CfnPermission:
        stack = cdk.Stack.of(self)
        return lambda_.CfnPermission(
            self,
            construct_id,
            action="lambda:InvokeFunction",
            function_name=function_name,
            principal=principal,
            source_arn=source_arn,
            source_account=stack.account,
        )
