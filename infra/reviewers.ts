import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import type { IHttpRouteAuthorizer } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpJwtAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import {
  AccountRecovery,
  type CfnUserPoolClient,
  Mfa,
  UserPool,
  type UserPoolClient,
  type UserPoolDomain,
} from "aws-cdk-lib/aws-cognito";
import { Construct } from "constructs";
import { acknowledgeNag } from "./constructs/nag.ts";

/**
 * The people who review candidates: a Cognito user pool (accounts created by an administrator,
 * MFA required), the client the web UI and the CLI sign in with, and the JWT authorizer the
 * review API checks their tokens with. The pool holds accounts, so it outlives the stack.
 */
export class Reviewers extends Construct {
  readonly userPool: UserPool;
  readonly client: UserPoolClient;
  readonly authorizer: IHttpRouteAuthorizer;

  constructor(scope: Construct, id: string) {
    super(scope, id);

    this.userPool = new UserPool(this, "UserPool", {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      mfa: Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledgeNag(
      this.userPool,
      "AwsSolutions-COG8",
      "A few reviewers, created by an administrator, with MFA required; the Plus tier's per-user threat protection is not worth its cost here.",
    );

    // A public client (the browser UI and the CLI cannot keep a secret), signing in with SRP.
    this.client = this.userPool.addClient("ReviewClient", {
      generateSecret: false,
      authFlows: { userSrp: true },
      preventUserExistenceErrors: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(7),
    });

    const region = Stack.of(this).region;
    this.authorizer = new HttpJwtAuthorizer(
      "ReviewerAuthorizer",
      `https://cognito-idp.${region}.amazonaws.com/${this.userPool.userPoolId}`,
      { jwtAudience: [this.client.userPoolClientId], identitySource: ["$request.header.Authorization"] },
    );
  }

  /**
   * Lets the web UI at `appUrl` sign reviewers in through the pool's hosted UI: a Cognito domain,
   * and on the client only the authorization-code flow (the page adds PKCE; the implicit flow and
   * the callback placeholder CDK defaults to are dropped), returning to `appUrl` only.
   */
  enableHostedUi(options: { readonly domainPrefix: string; readonly appUrl: string }): UserPoolDomain {
    const domain = this.userPool.addDomain("HostedUi", {
      cognitoDomain: { domainPrefix: options.domainPrefix },
    });
    const client = this.client.node.defaultChild as CfnUserPoolClient;
    client.allowedOAuthFlowsUserPoolClient = true;
    client.allowedOAuthFlows = ["code"];
    client.allowedOAuthScopes = ["openid", "email"];
    client.callbackUrLs = [options.appUrl];
    client.logoutUrLs = [options.appUrl];
    client.supportedIdentityProviders = ["COGNITO"];
    return domain;
  }
}
