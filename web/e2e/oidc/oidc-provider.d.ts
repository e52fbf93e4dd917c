/**
 * The part of `oidc-provider`'s API that e2e/oidc/provider.ts uses. The package ships plain
 * JavaScript (its types live in @types/oidc-provider, not a dependency here); these
 * declarations follow its 9.x source (lib/provider.js, lib/helpers/defaults.js).
 */
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  export interface Account {
    readonly accountId: string;
    claims(): Promise<Record<string, unknown>>;
  }

  export interface ClientMetadata {
    readonly client_id: string;
    readonly client_secret: string;
    readonly redirect_uris: readonly string[];
    readonly response_types?: readonly string[];
    readonly grant_types?: readonly string[];
    readonly token_endpoint_auth_method?: string;
    readonly id_token_signed_response_alg?: string;
  }

  /** The slice of Koa's context that `renderError` writes to. */
  export interface ErrorContext {
    type: string;
    body: string;
  }

  export interface Configuration {
    readonly clients: readonly ClientMetadata[];
    readonly jwks: { readonly keys: readonly Record<string, unknown>[] };
    readonly pkce?: { readonly required: () => boolean };
    readonly claims?: Readonly<Record<string, readonly string[]>>;
    readonly conformIdTokenClaims?: boolean;
    readonly findAccount: (ctx: unknown, sub: string) => Account | Promise<Account | undefined>;
    readonly features?: Readonly<Record<string, { readonly enabled: boolean }>>;
    readonly cookies?: {
      readonly names?: { readonly session?: string; readonly interaction?: string; readonly resume?: string };
      readonly keys?: readonly string[];
    };
    readonly ttl?: Readonly<Record<string, number>>;
    readonly renderError?: (ctx: ErrorContext, out: Record<string, unknown>, error: unknown) => Promise<void>;
  }

  export interface PromptDetails {
    readonly missingOIDCScope?: readonly string[];
    readonly missingOIDCClaims?: readonly string[];
    readonly missingResourceScopes?: Readonly<Record<string, readonly string[]>>;
  }

  export interface Interaction {
    readonly uid: string;
    readonly prompt: { readonly name: string; readonly details: PromptDetails };
    readonly params: Readonly<Record<string, unknown>>;
    readonly session?: { readonly accountId: string };
    readonly grantId?: string;
  }

  export interface Grant {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: readonly string[]): void;
    addResourceScope(indicator: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface GrantConstructor {
    new (init: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }

  export type InteractionResult =
    | { login: { accountId: string } }
    | { consent: { grantId: string } }
    | { error: string; error_description?: string };

  export default class Provider {
    constructor(issuer: string, configuration: Configuration);
    readonly Grant: GrantConstructor;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResult,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
  }
}
