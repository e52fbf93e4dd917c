/** Routes and providers. */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { lazy, Suspense, useState } from "react";
import { createBrowserRouter, Navigate, RouterProvider } from "react-router";

import { AuthedLayout, EmptyPane } from "@/app/layout";
import { LoginPage, RegisterPage } from "@/features/auth/auth-pages";
import { ForgotPasswordPage } from "@/features/auth/forgot-password-page";
import { ResetAccountPage } from "@/features/auth/reset-account-page";
import {
  ConversationRoute,
  type GroupPanelProps,
  type RequestsSlotProps,
} from "@/features/chat/conversation-view";
import { GroupInfoPanel } from "@/features/conversations/group-info-panel";
import { ConversationRequests } from "@/features/requests/conversation-requests";
import { BrowseRooms } from "@/features/rooms/browse-rooms";
import { SessionProvider, useSession } from "@/session/session";

/** Its own chunk: the settings page pulls in key fingerprints and the re-key flows. */
const SettingsPage = lazy(() => import("@/features/settings/settings-page"));
/** …and so is the page a sign-in provider sends the browser back to (a sign-up among others). */
const ProviderReturnPage = lazy(() => import("@/features/auth/provider-return-page"));

function Loading() {
  return (
    <p className="muted center pad" role="status">
      Loading…
    </p>
  );
}

function PublicOnly({ children }: { children: React.ReactNode }) {
  const { state } = useSession();
  if (state.status === "authenticated") return <Navigate to="/" replace />;
  return children;
}

/** Features stay apart: the app hands the chat view the conversations feature's group panel. */
function groupPanel(props: GroupPanelProps) {
  return <GroupInfoPanel {...props} />;
}

/** …and the requests feature's banner and actions menu. */
function requests(props: RequestsSlotProps) {
  return <ConversationRequests {...props} />;
}

const router = createBrowserRouter([
  { path: "/login", element: <PublicOnly><LoginPage /></PublicOnly> },
  { path: "/register", element: <PublicOnly><RegisterPage /></PublicOnly> },
  { path: "/forgot-password", element: <PublicOnly><ForgotPasswordPage /></PublicOnly> },
  { path: "/reset-account", element: <PublicOnly><ResetAccountPage /></PublicOnly> },
  {
    // In any session state: a sign-in, a sign-up, a link or an error comes back here.
    path: "/auth/provider",
    element: (
      <Suspense fallback={<Loading />}>
        <ProviderReturnPage />
      </Suspense>
    ),
  },
  {
    path: "/",
    element: <AuthedLayout />,
    children: [
      { index: true, element: <EmptyPane /> },
      { path: "rooms", element: <BrowseRooms /> },
      { path: "c/:id", element: <ConversationRoute groupPanel={groupPanel} requests={requests} /> },
      {
        path: "settings",
        element: (
          <Suspense fallback={<Loading />}>
            <SettingsPage />
          </Suspense>
        ),
      },
    ],
  },
  { path: "*", element: <Navigate to="/" replace /> },
]);

export function App() {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: true, staleTime: 10_000 } },
      }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <SessionProvider>
        <RouterProvider router={router} />
      </SessionProvider>
    </QueryClientProvider>
  );
}
