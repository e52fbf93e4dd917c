/** Render helpers for component tests: a fake server behind the real providers. */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { createMemoryRouter, RouterProvider, type RouteObject } from "react-router";

import { ApiClient } from "@/api/client";
import { SessionProvider } from "@/session/session";

export type Route = (url: string, init?: RequestInit) => { status: number; body?: unknown };

export function fakeApi(route: Route): { api: ApiClient; calls: string[] } {
  const calls: string[] = [];
  const api = new ApiClient((url, init) => {
    calls.push(`${init?.method ?? "GET"} ${url}`);
    const { status, body } = route(url, init);
    return Promise.resolve(
      new Response(body === undefined ? null : JSON.stringify(body), {
        status,
        headers: { "Content-Type": status >= 400 ? "application/problem+json" : "application/json" },
      }),
    );
  });
  return { api, calls };
}

/** `routes`: pages to navigate to, besides `element` (which answers every other path). */
export function renderWithProviders(
  element: ReactNode,
  api: ApiClient,
  path = "/",
  routes: RouteObject[] = [],
) {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const router = createMemoryRouter([...routes, { path: "*", element }], { initialEntries: [path] });
  return render(
    <QueryClientProvider client={queryClient}>
      <SessionProvider api={api}>
        <RouterProvider router={router} />
      </SessionProvider>
    </QueryClientProvider>,
  );
}
