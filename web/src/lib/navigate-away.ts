/**
 * Leave the app for a sign-in provider's page. Only http(s) addresses: a server that answered
 * with anything else (a `javascript:` URL, say) gets nowhere. Its own module, so tests can stand
 * in for the navigation.
 */
export function navigateAway(url: string): void {
  const target = new URL(url, window.location.href);
  if (target.protocol !== "https:" && target.protocol !== "http:") {
    throw new Error("refusing to leave for a non-http address");
  }
  window.location.assign(target.href);
}
