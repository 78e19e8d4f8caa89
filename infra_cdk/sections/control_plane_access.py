"""The way into the Dagster UI: a load balancer in front of the webserver, never open without authentication.

- Default: an internal ALB in the private subnets, HTTP on port 80 from inside the VPC only. Operators
  reach it through Session Manager port forwarding into the webserver task (ECS Exec) or a client VPN
  into the VPC (docs/infra.md, "Open the Dagster UI").
- With context ``dagsterUiDomain`` and ``dagsterUiCertificateArn``: an internet-facing ALB in the public
  subnets, HTTPS only (port 80 redirects), every request signed in through a Cognito user pool first
  (administrator-created users, TOTP MFA required). DNS for the domain points at ``DagsterUiLoadBalancer``.

Either way the webserver's security group admits the ALB's only, and the ALB writes access logs.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_actions as elbv2_actions
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk.context import InfraContext
from infra_cdk.nag import acknowledge
from infra_cdk.sections.network import PRIVATE, VPC_CIDR, Network

WEBSERVER_PORT = 3000
HEALTH_CHECK_PATH = "/server_info"  # answered by dagster-webserver without touching the instance database
ACCESS_LOG_DAYS = 90
PUBLIC = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)


class DagsterUiAccess(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, ctx: InfraContext, network: Network) -> None:
        super().__init__(scope, construct_id)
        vpc = network.vpc
        self.internet_facing = ctx.public_ui

        self.security_group = network.security_group(
            self,
            "SecurityGroup",
            ctx.name("dagster-ui-alb-sg"),
            "Dagster UI load balancer: "
            + ("HTTPS from the internet, Cognito sign-in" if self.internet_facing else "HTTP from inside the VPC"),
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            load_balancer_name=ctx.name("ui"),
            vpc=vpc,
            internet_facing=self.internet_facing,
            vpc_subnets=PUBLIC if self.internet_facing else PRIVATE,
            security_group=self.security_group,
            drop_invalid_header_fields=True,
            deletion_protection=not ctx.is_dev,
        )
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # ALB log delivery supports SSE-S3 only, not KMS
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(ACCESS_LOG_DAYS))],
            removal_policy=RemovalPolicy.DESTROY if ctx.is_dev else RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_logs,
            "S1",
            "This bucket only receives the Dagster UI load balancer's access logs; logging its own object "
            "access to another bucket would record the log deliveries themselves and nothing else.",
        )
        self.load_balancer.log_access_logs(self.access_logs, prefix="dagster-ui")

        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "Webserver",
            vpc=vpc,
            port=WEBSERVER_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path=HEALTH_CHECK_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(30),
                timeout=Duration.seconds(10),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        if self.internet_facing:
            assert ctx.ui_domain is not None and ctx.ui_certificate_arn is not None
            self.url = f"https://{ctx.ui_domain}"
            self._authenticated_listener(ctx, ctx.ui_domain, ctx.ui_certificate_arn)
        else:
            self.url = f"http://{self.load_balancer.load_balancer_dns_name}"
            self.security_group.add_ingress_rule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(80), "HTTP from the VPC")
            self.listener = self.load_balancer.add_listener(
                "Http",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                open=False,
                default_action=elbv2.ListenerAction.forward([self.target_group]),
            )

    def _authenticated_listener(self, ctx: InfraContext, domain: str, certificate_arn: str) -> None:
        """HTTPS with the context's certificate; Cognito sign-in before any request is forwarded."""
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=ctx.name("dagster-ui-users"),
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=14, require_digits=True, require_lowercase=True, require_uppercase=True, require_symbols=True
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=not ctx.is_dev,
            removal_policy=RemovalPolicy.DESTROY if ctx.is_dev else RemovalPolicy.RETAIN,
        )
        # Cognito domain prefixes are unique per region across all accounts: the account id makes it ours.
        self.user_pool_domain = self.user_pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=f"{ctx.name('ui')}-{ctx.account}"),
        )
        self.user_pool_client = self.user_pool.add_client(
            "LoadBalancer",
            user_pool_client_name=ctx.name("dagster-ui-alb"),
            generate_secret=True,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[f"https://{domain}/oauth2/idpresponse"],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
        )
        self.security_group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS from the internet")
        self.security_group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "HTTP, redirected to HTTPS")
        acknowledge(
            self.security_group,
            "EC23",
            "The internet-facing Dagster UI load balancer exists only when context names its domain and "
            "certificate; it listens to the internet and signs every request in through Cognito with MFA "
            "before forwarding it to the webserver.",
        )
        self.load_balancer.add_redirect(source_port=80, target_port=443)
        self.listener = self.load_balancer.add_listener(
            "Https",
            port=443,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            open=False,
            default_action=elbv2_actions.AuthenticateCognitoAction(
                user_pool=self.user_pool,
                user_pool_client=self.user_pool_client,
                user_pool_domain=self.user_pool_domain,
                session_timeout=Duration.hours(8),
                next=elbv2.ListenerAction.forward([self.target_group]),
            ),
        )
