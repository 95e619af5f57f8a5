// Identity and limits: token verification and minting, the stored secret, token buckets.
export { MAX_USER_ID_CHARS, TokenVerifier, mintToken, parseTtl, type VerifiedToken, type TokenVerifierOptions } from "./tokens.ts";
export { ensureStoredSecret, SECRET_FILE } from "./secret.ts";
export { TokenBucketLimiter } from "./token-bucket.ts";
export { Authenticator, type AuthMode } from "./authenticator.ts";
