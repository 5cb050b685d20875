import type { KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { fail } from '../common/errors/domain-error';
import { parseSignatureHeaders, ParsedSignature } from './core/signature-headers';
import { checkSignatureParams, SignaturePolicy } from './core/signature-policy';
import { buildSignatureBase, coversComponent, RequestView } from './core/signature-base';
import { verifySignatureBytes } from './core/signature-crypto';
import { algorithmFitsKey } from './core/jwk';
import { checkContentDigest, receivedContentOf } from './content-digest';
import { Clock } from './clock';
import { NonceStore } from './nonce-store';
import type { AuditEntry } from '../audit/audit-entry';
import type { VerificationAuditSink } from './verification-audit';
import { requestViewOf } from './request-view';
import { VerificationOptions } from './verification-options';

export interface InspectOptions {
  /** The tag the signature must carry; undefined on /register (vestauth signs it with tag="null"). */
  requiredTag?: string;
  /** Components the route requires besides @authority / @target-uri. */
  requiredComponents?: readonly string[];
}

/** A signature whose headers, parameters, components and authority passed (steps 1 to 4). */
export interface InspectedSignature {
  parsed: ParsedSignature;
  /** The request as its components see it, built once for steps 4 and 7. */
  request: RequestView;
  keyid: string;
  alg: string;
  /** Component names as covered, e.g. ["@authority", "signature-agent"]. */
  coveredComponents: string[];
  /** The bytes received, when content-digest is covered (checked once the signature holds). */
  content?: Buffer;
}

/**
 * The signature core shared by verification (any signed route) and
 * registration (proof-of-possession): DESIGN.md section 4, steps 1 to 4, 7
 * and 8. Agent and key resolution (5, 6) are the caller's.
 */
@Injectable()
export class SignatureVerifier {
  constructor(
    private readonly options: VerificationOptions,
    private readonly clock: Clock,
    private readonly nonces: NonceStore,
  ) {}

  /** Steps 1 to 4: parse, check parameters, covered components and authority. */
  inspect(req: Request, inspectOptions: InspectOptions): InspectedSignature {
    const parsed = parseSignatureHeaders(header(req, 'signature-input'), header(req, 'signature'), {
      requiredTag: inspectOptions.requiredTag,
    });
    checkSignatureParams(parsed.params, this.policy(inspectOptions.requiredTag), this.clock.nowSeconds());
    this.checkComponents(parsed, inspectOptions.requiredComponents ?? []);
    // Refused before any key lookup or cryptography when the body was not kept: the digest could not be checked anyway.
    const content = coversComponent(parsed, 'content-digest') ? receivedContentOf(req) : undefined;
    const request = requestViewOf(req);
    this.checkAuthority(request.authority);
    return {
      parsed,
      request,
      keyid: parsed.params.keyid!,
      alg: parsed.params.alg!,
      coveredComponents: parsed.components.map((c) => c.name),
      content,
    };
  }

  /** Step 7: the signature over the base built from this request, and the body digest when covered. */
  verifySignature(req: Request, inspected: InspectedSignature, key: KeyObject): void {
    if (!algorithmFitsKey(inspected.alg, key)) fail('UNSUPPORTED_ALGORITHM', 'algorithm does not match the key');
    const base = buildSignatureBase(inspected.parsed, inspected.request);
    if (!verifySignatureBytes(inspected.alg, key, base, inspected.parsed.signature)) {
      fail('INVALID_SIGNATURE', 'invalid signature');
    }
    // Only after the signature holds does the (signed) digest header mean anything.
    if (inspected.content !== undefined) {
      checkContentDigest(header(req, 'content-digest'), inspected.content);
    }
  }

  /** Step 8: only a verified signature spends its nonce; the second use is a replay. */
  async consumeNonce(kid: string, inspected: InspectedSignature): Promise<void> {
    const { nonce, expires } = inspected.parsed.params;
    if (nonce === undefined) return; // allowed only when the policy does not require nonces
    // Kept until no instance could still accept the signature (margins included).
    const fresh = await this.nonces.consume(kid, nonce, NonceStore.keepUntil(expires!, this.options.clockSkewSeconds));
    if (!fresh) fail('REPLAYED_NONCE', 'signature has already been used');
  }

  /**
   * Step 8 and the audit row of step 9 in one write where the store can (a
   * replay is recorded as a REPLAYED_NONCE failure by the same write).
   * Returns whether the nonce was fresh.
   */
  async consumeNonceAndRecord(kid: string, inspected: InspectedSignature, success: AuditEntry, sink: VerificationAuditSink): Promise<boolean> {
    const { nonce, expires } = inspected.parsed.params;
    if (nonce === undefined) {
      await sink.record(success);
      return true;
    }
    return this.nonces.consumeAndRecord(kid, nonce, NonceStore.keepUntil(expires!, this.options.clockSkewSeconds), success, sink);
  }

  private policy(requiredTag: string | undefined): SignaturePolicy {
    return {
      clockSkewSeconds: this.options.clockSkewSeconds,
      maxLifetimeSeconds: this.options.maxLifetimeSeconds,
      requireNonce: this.options.requireNonce,
      requiredTag,
      supportedAlgorithms: this.options.supportedAlgorithms,
    };
  }

  private checkComponents(parsed: ParsedSignature, required: readonly string[]): void {
    if (!coversComponent(parsed, '@authority') && !coversComponent(parsed, '@target-uri')) {
      fail('MISSING_COMPONENT', 'signature must cover @authority or @target-uri');
    }
    for (const name of required) {
      if (!coversComponent(parsed, name)) fail('MISSING_COMPONENT', `signature must cover ${name}`);
    }
  }

  /** Step 4: a signature made for another host is refused even if it verifies. */
  private checkAuthority(authority: string): void {
    if (!this.options.acceptedAuthorities.includes(authority)) {
      fail('WRONG_AUTHORITY', 'request authority is not this service', { authority: authority.slice(0, 100) });
    }
  }
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
