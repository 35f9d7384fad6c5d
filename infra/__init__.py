"""AWS CDK app of the e-services backend (a package, so `infra.app` never clashes with the root `app`)."""
