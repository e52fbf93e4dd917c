import type { Argon2Phase } from "@/lib/argon2-protocol";

/** What a long account operation reports: the Argon2id phases, then the server round trips. */
export type Progress = (phase: Argon2Phase | "sending") => void;
