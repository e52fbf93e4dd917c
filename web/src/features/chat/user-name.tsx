import { useUser } from "@/api/queries";

export function UserName({ userId }: { userId: string }) {
  const user = useUser(userId);
  return <>{user.data?.display_name ?? "…"}</>;
}
