/**
 * A real OpenID Connect provider (the `oidc-provider` package) on loopback, for the end-to-end
 * "Sign in with …" scenarios. It stands in for Google or any OIDC issuer: discovery, JWKS,
 * authorization code + PKCE (S256, required), client_secret_basic (or _post) at the token
 * endpoint, RS256 ID tokens carrying email, email_verified and name.
 *
 * Run from web/ (TypeScript, so it is type-checked and linted with the rest of e2e/):
 *   node --import tsx e2e/oidc/provider.ts --port N --redirect-uri URI [--redirect-uri URI2 …]
 *        [--client-id hushroom-e2e] [--client-secret e2e-secret]
 * It prints `READY http://127.0.0.1:N` on stdout once listening, and exits 0 on SIGTERM/SIGINT.
 *
 * Users: any login is an account. `sub` = the login as typed (trimmed), `email` =
 * `<login>@example.test`, `name` = the login capitalised ("alice" → "Alice"), `email_verified` =
 * true, except for logins starting with "unverified" (false). Any non-empty password is accepted.
 *
 * The login page (/interaction/<uid>), for Playwright:
 *   heading   page.getByRole("heading", { name: "Sign in to Test ID" })
 *   login     page.getByLabel("Login")      (<input id="login" name="login">)
 *   password  page.getByLabel("Password")   (<input id="password" name="password" type="password">)
 *   submit    page.getByRole("button", { name: "Continue" })
 *   cancel    page.getByRole("button", { name: "Cancel" })  → redirect_uri?error=access_denied&state=…
 * Consent is granted without a page: after "Continue" the browser goes straight back to the
 * redirect URI with ?code=…&state=…&iss=….
 *
 * Like a real IdP it keeps a login session (a cookie, so per browser context): a second sign-in
 * in the same Playwright context skips the login page. Use a new context to be someone else.
 * Its cookies are named after the port: cookies ignore ports, so two providers on 127.0.0.1 and
 * Hushroom itself would otherwise share (and overwrite) them.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import { parseArgs } from "node:util";

import Provider, { type Account, type Interaction } from "oidc-provider";

const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    "redirect-uri": { type: "string", multiple: true },
    "client-id": { type: "string", default: "hushroom-e2e" },
    "client-secret": { type: "string", default: "e2e-secret" },
  },
  strict: true,
});

const port = Number(args.port);
const redirectUris = args["redirect-uri"] ?? [];
if (!Number.isInteger(port) || port <= 0 || redirectUris.length === 0) {
  console.error("usage: provider.ts --port N --redirect-uri URI [--redirect-uri URI …]");
  process.exit(2);
}
const issuer = `http://127.0.0.1:${String(port)}`;

// A fresh signing key per run: nothing outlives the process, so nothing needs storing.
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: "jwk" }),
  kid: `e2e-${String(port)}`,
  use: "sig",
  alg: "RS256",
};

function account(login: string): Account {
  return {
    accountId: login,
    // The provider keeps only the claims of the granted scopes (openid, email, profile).
    claims: () =>
      Promise.resolve({
        sub: login,
        email: `${login}@example.test`,
        email_verified: !login.startsWith("unverified"),
        name: login.charAt(0).toUpperCase() + login.slice(1),
      }),
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${String(c.charCodeAt(0))};`);
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><main>${body}</main></body></html>`;
}

function errorPage(entries: [string, unknown][]): string {
  const lines = entries.map(
    ([key, value]) => `<p><strong>${escapeHtml(key)}</strong>: ${escapeHtml(String(value))}</p>`,
  );
  return page("Test ID error", `<h1>Test ID error</h1>${lines.join("")}`);
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: args["client-id"],
      client_secret: args["client-secret"],
      redirect_uris: redirectUris,
      response_types: ["code"],
      grant_types: ["authorization_code"],
      // oidc-provider takes client_secret_post too for a client_secret_basic client.
      token_endpoint_auth_method: "client_secret_basic",
      id_token_signed_response_alg: "RS256",
    },
  ],
  jwks: { keys: [signingKey] },
  // PKCE for every client: the default requires it only of public ones.
  pkce: { required: () => true },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  // Put the granted claims in the ID token itself, as Google does; the default (true) leaves
  // them to the userinfo endpoint whenever a code is exchanged.
  conformIdTokenClaims: false,
  findAccount: (_ctx, sub) => account(sub),
  // Our pages below replace the package's development ones (which have no <label>s).
  features: { devInteractions: { enabled: false } },
  cookies: {
    names: {
      session: `op${String(port)}_session`,
      interaction: `op${String(port)}_interaction`,
      resume: `op${String(port)}_resume`,
    },
    keys: [randomBytes(32).toString("base64url")],
  },
  // Explicit lifetimes: each default logs a "should change" warning when used.
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    IdToken: 600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  renderError: (ctx, out) => {
    ctx.type = "html";
    ctx.body = errorPage(Object.entries(out));
    return Promise.resolve();
  },
});

function loginPage(uid: string, error?: string): string {
  const action = `/interaction/${encodeURIComponent(uid)}`;
  const alert = error === undefined ? "" : `<p role="alert">${escapeHtml(error)}</p>`;
  return page(
    "Sign in to Test ID",
    `<h1>Sign in to Test ID</h1>${alert}
    <form method="post" action="${action}/login" autocomplete="off">
      <label for="login">Login</label> <input id="login" name="login" required autofocus>
      <label for="password">Password</label> <input id="password" name="password" type="password" required>
      <button type="submit">Continue</button>
    </form>
    <form method="post" action="${action}/abort"><button type="submit">Cancel</button></form>`,
  );
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(html);
}

/** The url-encoded form body, bounded: a login form is tiny. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = "";
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 16_384) throw new Error("form too large");
  }
  return new URLSearchParams(body);
}

/** Consent without asking: grant whatever our one (first-party) client requested. */
async function grantConsent(req: IncomingMessage, res: ServerResponse, details: Interaction) {
  const accountId = details.session?.accountId;
  const clientId = details.params.client_id;
  if (accountId === undefined || typeof clientId !== "string") throw new Error("no login yet");
  const existing = details.grantId === undefined ? undefined : await provider.Grant.find(details.grantId);
  const grant = existing ?? new provider.Grant({ accountId, clientId });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(" "));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } });
}

/** GET /interaction/<uid>, POST …/login, POST …/abort. */
async function interaction(
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
  step: string | undefined,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error("interaction mismatch");
  if (req.method === "GET" && step === undefined) {
    if (details.prompt.name === "consent") {
      await grantConsent(req, res, details);
    } else {
      send(res, 200, loginPage(uid));
    }
  } else if (req.method === "POST" && step === "login") {
    const form = await readForm(req);
    const login = (form.get("login") ?? "").trim();
    if (!login || !form.get("password")) {
      send(res, 400, loginPage(uid, "Enter a login and a password."));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, {
      mergeWithLastSubmission: false,
    });
  } else if (req.method === "POST" && step === "abort") {
    const result = { error: "access_denied", error_description: "End-User aborted interaction" };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  } else {
    send(res, 405, errorPage([["error", "method not allowed"]]));
  }
}

const handleProtocol = provider.callback();
const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|abort))?$/;

const server = createServer((req, res) => {
  const match = INTERACTION.exec(new URL(req.url ?? "/", issuer).pathname);
  if (match === null) {
    handleProtocol(req, res);
    return;
  }
  interaction(req, res, match[1]!, match[2]).catch((error: unknown) => {
    // An expired or unknown interaction (e.g. the back button after finishing) lands here.
    const message = error instanceof Error ? error.message : String(error);
    console.error(`interaction ${req.method ?? ""} ${req.url ?? ""}: ${message}`);
    if (res.headersSent) res.end();
    else send(res, 400, errorPage([["error", message]]));
  });
});

server.on("error", (error) => {
  console.error(`oidc provider on port ${String(port)}: ${error.message}`);
  process.exit(1);
});

server.listen(port, "127.0.0.1", () => {
  console.log(`READY ${issuer}`);
});

function shutdown(): void {
  server.close(() => process.exit(0));
  // Keep-alive connections (the browser's, Hushroom's) would hold close() open.
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
