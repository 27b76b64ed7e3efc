import { CfnOutput, Duration, RemovalPolicy, SecretValue, Stack } from "aws-cdk-lib";
import type { IHttpRouteAuthorizer } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpJwtAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import {
  AccountRecovery,
  type CfnUserPoolClient,
  FeaturePlan,
  LambdaVersion,
  Mfa,
  OAuthScope,
  ResourceServerScope,
  UserPool,
  type UserPoolClient,
  UserPoolClientIdentityProvider,
  type UserPoolDomain,
  UserPoolOperation,
  type UserPoolResourceServer,
} from "aws-cdk-lib/aws-cognito";
import type { BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import {
  ALL_ROLES,
  ALL_SCOPES,
  RESOURCE_SERVER,
  ROLES,
  ROUTE_ACCESS,
  type Scope,
  scopeName,
  scopesOfRoles,
} from "../lib/common/http/access.ts";
import { acknowledgeNag } from "./constructs/nag.ts";
import { ProjectFunction } from "./constructs/project-function.ts";
import type { MachineClient } from "./machine-clients.ts";

/** The port `flywheel login` listens on by default (cli/auth.ts `DEFAULT_LOGIN_PORT`). */
export const CLI_LOGIN_PORT = 8976;

/**
 * Where the CLI's sign-in may come back to. Cognito compares a redirect URI with the registered
 * ones as a string, port included, and takes plain HTTP only for `http://localhost`; so the
 * default is `flywheel login --redirect-host localhost` on its default port.
 */
export const DEFAULT_CLI_CALLBACK_URLS = [`http://localhost:${CLI_LOGIN_PORT}/callback`];

/** What a person's sign-in asks for beside the flywheel scopes. */
const PERSON_OIDC_SCOPES = ["openid", "email", "profile"];

export interface ReviewersProps {
  /** The pre-token-generation trigger, `functions/pre-token.ts`. */
  readonly preTokenEntry: string;
  readonly bundling?: BundlingOptions;
  /** The machines that call the API with client credentials (`-c machineClients=…`). */
  readonly machineClients?: readonly MachineClient[];
  /** The CLI's redirect URIs. @default DEFAULT_CLI_CALLBACK_URLS */
  readonly cliCallbackUrls?: readonly string[];
}

/** A machine's app client and the secret that holds its id and secret. */
export interface MachineAppClient {
  readonly declaration: MachineClient;
  readonly client: UserPoolClient;
  readonly secret: Secret;
}

/**
 * Who may call the API. People: a Cognito user pool (accounts created by an administrator, MFA
 * required), one group per role, signing in through the web UI's client or the CLI's; a
 * pre-token-generation trigger gives their access tokens exactly their groups' scopes.
 * Machines: one client-credentials app client each, allowed its roles' scopes. The scopes are a
 * resource server's, all built from `lib/common/http/access.ts`; the JWT authorizer accepts the
 * tokens of every client. The pool holds accounts, so it outlives the stack.
 */
export class Reviewers extends Construct {
  readonly userPool: UserPool;
  readonly resourceServer: UserPoolResourceServer;
  /** The web UI's client. */
  readonly client: UserPoolClient;
  /** The CLI's public client: authorization code with PKCE, back to a loopback address. */
  readonly cliClient: UserPoolClient;
  readonly machineClients: readonly MachineAppClient[];
  readonly preTokenGeneration: ProjectFunction;
  readonly authorizer: IHttpRouteAuthorizer;
  /** The scopes a person's sign-in may ask for: OpenID's and every flywheel scope. */
  readonly personScopes: readonly string[];
  private readonly oAuthScopes: Record<Scope, OAuthScope>;

  constructor(scope: Construct, id: string, props: ReviewersProps) {
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
      // Access-token customisation (the V2_0 pre-token-generation event) needs Essentials.
      featurePlan: FeaturePlan.ESSENTIALS,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledgeNag(
      this.userPool,
      "AwsSolutions-COG8",
      "A few reviewers, created by an administrator, with MFA required; the Plus tier's per-user threat protection is not worth its cost here.",
    );

    // The resource server's scopes, one per scope of access.ts: `flywheel/<scope>` on a token.
    const serverScopes = Object.fromEntries(
      ALL_SCOPES.map((name) => [
        name,
        new ResourceServerScope({ scopeName: name, scopeDescription: scopeDescription(name) }),
      ]),
    ) as Record<Scope, ResourceServerScope>;
    this.resourceServer = this.userPool.addResourceServer("Api", {
      identifier: RESOURCE_SERVER,
      userPoolResourceServerName: "Flywheel API",
      scopes: Object.values(serverScopes),
    });
    this.oAuthScopes = Object.fromEntries(
      ALL_SCOPES.map((name) => [name, OAuthScope.resourceServer(this.resourceServer, serverScopes[name])]),
    ) as Record<Scope, OAuthScope>;
    this.personScopes = [...PERSON_OIDC_SCOPES, ...ALL_SCOPES.map(scopeName)];

    // A person's roles are their groups.
    for (const role of ALL_ROLES) {
      this.userPool.addGroup(`Role${pascal(role)}`, {
        groupName: role,
        description: `Flywheel role ${role}: ${ROLES[role].map(scopeName).join(" ")}`,
      });
    }

    this.preTokenGeneration = new ProjectFunction(this, "PreTokenGeneration", {
      entry: props.preTokenEntry,
      description: "Gives a person's access token the flywheel scopes of their groups, and no other",
      // Cognito waits five seconds for a trigger; this one computes a list.
      timeout: Duration.seconds(5),
      memorySize: 256,
      bundling: props.bundling,
    });
    this.userPool.addTrigger(
      UserPoolOperation.PRE_TOKEN_GENERATION_CONFIG,
      this.preTokenGeneration,
      LambdaVersion.V2_0,
    );

    // A public client (the browser UI cannot keep a secret), signing in with SRP; its hosted-UI
    // settings are added by `enableHostedUi` once the site's URL is known.
    this.client = this.userPool.addClient("ReviewClient", {
      generateSecret: false,
      authFlows: { userSrp: true },
      preventUserExistenceErrors: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(7),
    });
    this.client.node.addDependency(this.resourceServer);

    this.cliClient = this.userPool.addClient("CliClient", {
      userPoolClientName: "flywheel-cli",
      generateSecret: false,
      authFlows: { userSrp: true },
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [OAuthScope.OPENID, OAuthScope.EMAIL, OAuthScope.PROFILE, ...Object.values(this.oAuthScopes)],
        callbackUrls: [...(props.cliCallbackUrls ?? DEFAULT_CLI_CALLBACK_URLS)],
      },
      supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(7),
    });
    this.cliClient.node.addDependency(this.resourceServer);

    this.machineClients = (props.machineClients ?? []).map((declaration) =>
      this.addMachineClient(declaration),
    );

    this.authorizer = new HttpJwtAuthorizer("ReviewerAuthorizer", this.issuerUrl(), {
      // An ID token names its client in `aud`, an access token in `client_id`: the authorizer
      // accepts either, for every client of the pool that calls the API.
      jwtAudience: [
        this.client.userPoolClientId,
        this.cliClient.userPoolClientId,
        ...this.machineClients.map(({ client }) => client.userPoolClientId),
      ],
      identitySource: ["$request.header.Authorization"],
    });
  }

  /** The pool's issuer: what the JWT authorizer trusts and `flywheel login --auth-url` names. */
  issuerUrl(): string {
    return `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${this.userPool.userPoolId}`;
  }

  /**
   * Client id → source for the product clients: a client-credentials token may ingest for its
   * own source only (`INGEST_CLIENT_SOURCES`); `undefined` when no product client is declared.
   */
  clientSources(): string | undefined {
    const products = this.machineClients.filter(({ declaration }) => declaration.source !== undefined);
    if (products.length === 0) return undefined;
    return Stack.of(this).toJsonString(
      Object.fromEntries(
        products.map(({ client, declaration }) => [client.userPoolClientId, declaration.source]),
      ),
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
    client.allowedOAuthScopes = [...this.personScopes];
    client.callbackUrLs = [options.appUrl];
    client.logoutUrLs = [options.appUrl];
    client.supportedIdentityProviders = ["COGNITO"];
    return domain;
  }

  private addMachineClient(declaration: MachineClient): MachineAppClient {
    const id = `Machine${pascal(declaration.name)}`;
    const client = this.userPool.addClient(id, {
      userPoolClientName: `flywheel-${declaration.name}`,
      generateSecret: true,
      oAuth: {
        flows: { clientCredentials: true },
        scopes: [...scopesOfRoles(declaration.roles)].map((name) => this.oAuthScopes[name]),
      },
      accessTokenValidity: Duration.hours(1),
    });
    client.node.addDependency(this.resourceServer);
    // Client credentials only: no user may sign in through a machine's client.
    (client.node.defaultChild as CfnUserPoolClient).explicitAuthFlows = ["ALLOW_REFRESH_TOKEN_AUTH"];

    const secret = new Secret(this, `${id}Secret`, {
      description: `Flywheel machine client ${declaration.name} (${declaration.roles.join(", ")}): its app client id and secret`,
      secretObjectValue: {
        client_id: SecretValue.unsafePlainText(client.userPoolClientId),
        client_secret: client.userPoolClientSecret,
      },
    });
    acknowledgeNag(
      secret,
      "AwsSolutions-SMG4",
      "It copies the Cognito app client's own secret, read from Cognito at deploy time; a rotation Lambda could not change what Cognito checks, so the secret is replaced by replacing the app client.",
    );
    acknowledgeClientSecretReader(Stack.of(this));
    new CfnOutput(Stack.of(this), `${id}SecretArn`, {
      value: secret.secretArn,
      description: `Machine client ${declaration.name}: the secret holding its client_id and client_secret`,
    });
    return { declaration, client, secret };
  }
}

/** A scope's description on the resource server: the routes it opens (Cognito allows 256 characters). */
function scopeDescription(scope: Scope): string {
  const routes = Object.entries(ROUTE_ACCESS)
    .filter(([, access]) => access === scope)
    .map(([route]) => route);
  const text = `Flywheel API: ${routes.join(", ")}`;
  return text.length <= 256 ? text : `${text.slice(0, 253)}...`;
}

const pascal = (name: string) =>
  name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join("");

/**
 * `userPoolClientSecret` reads a client's secret at deploy time through CDK's AwsCustomResource,
 * a stack-wide singleton function (id `AWS679f53fac002430cb0da5b7982bd2287`) owned by CDK.
 */
function acknowledgeClientSecretReader(stack: Stack): void {
  for (const child of stack.node.children) {
    if (!child.node.id.startsWith("AWS679f53fac002430cb0da5b7982bd2287")) continue;
    acknowledgeNag(
      child,
      "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
      "CDK's AwsCustomResource function only needs to write its own logs, which this managed policy allows.",
    );
    acknowledgeNag(
      child,
      "AwsSolutions-L1",
      "CDK's AwsCustomResource function runs the runtime its aws-cdk-lib version ships with; it moves with aws-cdk-lib.",
    );
  }
}
