import * as z from "zod";

/**
 * A chat product's profile, as the session eval API kept it: what the assistant of a profile is
 * for, so the judge scores its sessions against that purpose. Optional: a session whose profile
 * is not registered is judged on its transcript and feedback alone.
 */
export const ProfileInput = z.object({
  id: z
    .string()
    .trim()
    .min(1)
    .max(128)
    .refine((id) => !/\p{Cc}/u.test(id), "must not contain control characters"),
  name: z.string().trim().max(200).default(""),
  /** What the assistant is for and what good looks like; shown to the judge as it is. */
  description: z.string().trim().min(1).max(4_000),
});
export type ProfileInput = z.infer<typeof ProfileInput>;

export interface EvalProfile extends ProfileInput {
  readonly id: string;
  readonly updated_at: string;
  readonly updated_by: string;
}

/** A registry is small: this many profiles at most, so listing it is one short query. */
export const MAX_PROFILES = 500;
