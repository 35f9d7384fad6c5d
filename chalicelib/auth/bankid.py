"""The BankID RP v6 client: pybankid pointed at the configured endpoint.

pybankid fixes BankID's hosts in its constructor; this subclass takes the endpoint from config (the
local simulator, BankID's test service or production) and the RP certificate from files or from
Secrets Manager. It also asks for BankID's risk indication on auth and sign (`returnRisk`, RP v6; pybankid
1.5.0 cannot send it, its issue #82): a complete collect's `completionData.risk` is then `low`, `moderate` or
`high` (absent when BankID has no assessment). Imported lazily: httpx and pybankid cost ~150 ms of cold start.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
from typing import Any
from urllib.parse import urljoin, urlparse

import httpx
from bankid import BankIDClient
from bankid.certutils import resolve_cert_path
from bankid.exceptions import get_json_error_class
from bankid.responses import AuthenticateResponse, SignResponse

from chalicelib.core.config import settings
from chalicelib.core.errors import ConfigurationError
from chalicelib.core.process import process_wide

_BANKID_CAS = {"appapi2.bankid.com": "appapi2.bankid.com.pem", "appapi2.test.bankid.com": "appapi2.test.bankid.com.pem"}


class ConfiguredBankIDClient(BankIDClient):
    def __init__(self, api_url: str, certificates: tuple[str, str] | None, request_timeout: float = 5) -> None:
        # Deliberately not calling BankIDClient.__init__: it hard-codes the hosts.
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.certs = certificates
        host = urlparse(self.api_url).hostname or ""
        verify: Any = True
        if self.api_url.startswith("https://"):
            ca = _BANKID_CAS.get(host)
            self.verify_cert = resolve_cert_path(ca) if ca else ""
            self.ctx = ssl.create_default_context(cafile=self.verify_cert) if ca else ssl.create_default_context()
            verify = self.ctx
        for name in ("auth", "phone/auth", "sign", "phone/sign", "collect", "cancel"):
            setattr(self, f"_{name.replace('/', '_')}_endpoint", urljoin(self.api_url, name))
        self.client = httpx.Client(
            cert=certificates,
            headers={"Content-Type": "application/json"},
            verify=verify,
            timeout=request_timeout,
        )

    def authenticate(
        self,
        end_user_ip: str,
        requirement: dict[str, Any] | None = None,
        user_visible_data: str | None = None,
        user_non_visible_data: str | None = None,
        user_visible_data_format: str | None = None,
        *,
        return_risk: bool = True,
    ) -> AuthenticateResponse:
        """pybankid's `authenticate` (same payload, same errors) plus `returnRisk`."""
        data = self._order_payload(
            end_user_ip,
            requirement=requirement,
            user_visible_data=user_visible_data,
            user_non_visible_data=user_non_visible_data,
            user_visible_data_format=user_visible_data_format,
            return_risk=return_risk,
        )
        return self._post_order(self._auth_endpoint, data)

    def sign(
        self,
        end_user_ip: str,
        user_visible_data: str,
        requirement: dict[str, Any] | None = None,
        user_non_visible_data: str | None = None,
        user_visible_data_format: str | None = None,
        *,
        return_risk: bool = True,
    ) -> SignResponse:
        """pybankid's `sign` (same payload, same errors) plus `returnRisk`. `user_visible_data` is plain text:
        it is base64-encoded here, as pybankid does."""
        data = self._order_payload(
            end_user_ip,
            requirement=requirement,
            user_visible_data=user_visible_data,
            user_non_visible_data=user_non_visible_data,
            user_visible_data_format=user_visible_data_format,
            return_risk=return_risk,
        )
        return self._post_order(self._sign_endpoint, data)

    def _order_payload(
        self,
        end_user_ip: str,
        *,
        requirement: dict[str, Any] | None,
        user_visible_data: str | None,
        user_non_visible_data: str | None,
        user_visible_data_format: str | None,
        return_risk: bool,
    ) -> dict[str, Any]:
        data: dict[str, Any] = dict(
            self._create_payload(
                end_user_ip,
                requirement=requirement,
                user_visible_data=user_visible_data,
                user_non_visible_data=user_non_visible_data,
                user_visible_data_format=user_visible_data_format,
            )
        )
        if return_risk:
            data["returnRisk"] = True
        return data

    def _post_order(self, endpoint: str, data: dict[str, Any]) -> Any:
        """As pybankid posts: 200 → the JSON body, otherwise the BankIDError subclass for `errorCode`."""
        response = self.client.post(endpoint, json=data)
        if response.status_code == 200:
            return response.json()
        raise get_json_error_class(response)


def _certificates() -> tuple[str, str] | None:
    config = settings()
    if config.bankid_cert_path and config.bankid_key_path:
        return config.bankid_cert_path, config.bankid_key_path
    if config.bankid_cert_secret_arn:
        from aws_lambda_powertools.utilities.parameters import get_secret

        raw = get_secret(config.bankid_cert_secret_arn, max_age=3600)
        pem = json.loads(raw if isinstance(raw, str) else bytes(raw).decode())
        directory = tempfile.mkdtemp(prefix="bankid-")
        paths = []
        for name in ("certificate", "privateKey"):
            path = os.path.join(directory, f"{name}.pem")
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
                handle.write(pem[name])
            paths.append(path)
        return paths[0], paths[1]
    if settings().bankid_api_url.startswith("https://"):
        raise ConfigurationError("BankID needs the RP certificate: BANKID_CERT_SECRET_ARN or BANKID_CERT_PATH/KEY_PATH")
    return None  # plain http: the local simulator


@process_wide
def bankid_client() -> BankIDClient:
    return ConfiguredBankIDClient(settings().bankid_api_url, _certificates())
