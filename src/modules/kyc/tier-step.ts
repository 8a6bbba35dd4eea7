// The tier step every verification takes inside its own transaction, after the verification row is written
// and with the customer row locked: recompute the tier from the whole history, never lower the stored one,
// write a tier event when it changes. One function for every method (the ingest, the face match).
import type { DbClient } from "../../db/types.js";
import { newId } from "../../ids.js";
import { higherTier, tierChangeReason, tierFromHistory, type Tier, type VerificationFact } from "../../kyc/tier.js";
import { customersDal } from "../customers/customers-dal.js";
import { verificationsDal } from "../verifications/verifications-dal.js";
import { tierEventsDal } from "./kyc-dal.js";

export interface TierStep {
  orgId: string;
  /** As read under the row lock (customersDal.lockInOrg). */
  customer: { id: string; kycTier: Tier };
  /** The verification just written. */
  trigger: VerificationFact & { id: string };
  at: Date;
}

/** Returns the customer's tier after the step. */
export async function applyTierStep(tx: DbClient, { orgId, customer, trigger, at }: TierStep): Promise<Tier> {
  const eligible = tierFromHistory(await verificationsDal.facts(tx, customer.id));
  const next = higherTier(customer.kycTier, eligible); // tiers never drop
  const changed = next !== customer.kycTier;
  if (changed) {
    await tierEventsDal.create(tx, {
      id: newId.tierEvent(),
      orgId,
      customerId: customer.id,
      fromTier: customer.kycTier,
      toTier: next,
      reason: tierChangeReason(trigger, next),
      verificationId: trigger.id,
      createdAt: at,
    });
  }
  const verified = trigger.status === "verified";
  if (changed || verified) {
    await customersDal.setKyc(tx, customer.id, {
      ...(changed ? { kycTier: next } : {}),
      ...(verified ? { kycLastVerifiedAt: at } : {}),
    });
  }
  return next;
}
