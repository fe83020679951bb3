package dev.tollgate.api.token;

/** What {@link TokenVerifier#verify} answers: a verified token or a rejection with a closed reason. No exceptions. */
public sealed interface VerificationResult permits VerifiedToken, TokenRejection {
}
