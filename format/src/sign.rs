//! Keys, addresses, the signing digest, signing and strict verification.
//!
//! **Verification rule.** A signature `(R, S)` by key `A` over message `M` is valid when `S`
//! is canonical (`S < l`), `R` and `A` are canonical point encodings of points that are not of
//! small order, and the *cofactored* equation `[8]([S]B - R - [k]A) = 0` holds with
//! `k = SHA-512(R || A || M) mod l`. The cofactored equation is what makes batch and single
//! verification agree on every input (ZIP-215's lesson): a signature crafted with a torsion
//! component gets the same verdict however it is batched. Public keys must lie in the
//! prime-order subgroup, so one secret key is one signer. Batches use ed25519-dalek's
//! `verify_batch`; when a batch fails, each signature is checked alone to name the culprits.

use crate::reason::Reason;
use crate::types::{Authorization, Move, SignatureBytes, Transaction, TxBody};
use alloy_primitives::{Address, B256};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use ed25519_dalek::{Digest, Sha512, Signer, SigningKey, VerifyingKey};
use std::sync::OnceLock;

/// The address of an ed25519 public key: the last 20 bytes of blake3 (context
/// [`crate::hash::domain::ADDRESS`]) of the 32 key bytes.
pub fn address_of(public_key: &[u8; 32]) -> Address {
    let mut h = crate::hash::address_hasher();
    h.update(public_key);
    let d = h.finalize();
    Address::from_slice(&d.as_bytes()[12..])
}

/// A signing key held by a wallet.
#[derive(Clone)]
pub struct Keypair {
    key: SigningKey,
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "Keypair({})", self.address())
    }
}

impl Keypair {
    /// The key whose RFC 8032 secret seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Keypair {
        Keypair {
            key: SigningKey::from_bytes(&seed),
        }
    }
    /// A deterministic test/devnet key: the seed is blake3 of `label`.
    pub fn from_label(label: &str) -> Keypair {
        Keypair::from_seed(*blake3::hash(label.as_bytes()).as_bytes())
    }
    /// The 32-byte compressed public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
    /// The address derived from the public key.
    pub fn address(&self) -> Address {
        address_of(&self.public_key())
    }
    /// Signs a 32-byte signing digest.
    pub fn sign_digest(&self, digest: &B256) -> SignatureBytes {
        SignatureBytes(self.key.sign(digest.as_slice()).to_bytes())
    }
    /// An authorisation of `body` by this key as its only signer. For a transaction with
    /// co-signers use [`Keypair::authorize_among`] (or [`sign`]): every signer of a co-signed
    /// transaction signs the list of all its signers too ([`authorization_digest`]).
    pub fn authorize(&self, body: &TxBody) -> Authorization {
        self.authorize_among(body, &[self.public_key()])
    }

    /// This key's authorisation of `body` signed by `signers` (every public key, in the order
    /// of the transaction's authorisations, this key among them).
    pub fn authorize_among(&self, body: &TxBody, signers: &[[u8; 32]]) -> Authorization {
        Authorization {
            public_key: self.public_key(),
            signature: self.sign_digest(&authorization_digest(&signing_digest(body), signers)),
        }
    }
}

fn put_move_signed_fields(h: &mut blake3::Hasher, m: &Move, buf: &mut Vec<u8>) {
    buf.clear();
    buf.push(m.mask.0);
    buf.push(u8::from(m.kind));
    buf.push(m.mark.byte());
    buf.extend_from_slice(m.addr.as_slice());
    buf.extend_from_slice(&m.slot.to_be_bytes::<32>());
    if m.mask.intx() {
        buf.extend_from_slice(m.intx.as_slice());
    }
    if m.mask.prev() {
        crate::encoders::put_value(buf, &m.prev);
    }
    if m.mask.next() {
        crate::encoders::put_value(buf, &m.next);
    }
    if m.mask.nonce() {
        // Account moves only (check_structure refuses the bit on a storage word).
        buf.extend_from_slice(&m.prev.nonce().unwrap_or(0).to_le_bytes());
    }
    h.update(buf);
}

/// The signing digest of a body: blake3 (context [`crate::hash::domain::SIGNING`]) over the chain id, the
/// call, the context, `open`, the number of signed moves, and for each move with a non-zero
/// mask, in order: mask, kind, mark, addr, slot, then `intx`, `prev`, `next` and the nonce
/// of `prev` (u64 little-endian) where the mask selects them. Moves with mask 0 and the created code are not covered (the code is bound
/// by re-execution through the declared code hashes).
pub fn signing_digest(body: &TxBody) -> B256 {
    let mut h = crate::hash::signing_hasher();
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(&body.chain_id.to_le_bytes());
    crate::encoders::put_call(&mut buf, &body.call);
    crate::encoders::put_context(&mut buf, &body.context);
    buf.push(u8::from(body.open));
    let signed = body.moves.iter().filter(|m| m.mask.is_signed()).count() as u64;
    buf.extend_from_slice(&signed.to_le_bytes());
    h.update(&buf);
    for m in body.moves.iter().filter(|m| m.mask.is_signed()) {
        put_move_signed_fields(&mut h, m, &mut buf);
    }
    B256::from(*h.finalize().as_bytes())
}

/// What every authorisation of a transaction signs (`docs/PROTOCOL.md` §5.2): the body's
/// [`signing_digest`] when there is one signer; with co-signers, blake3 (context
/// [`crate::hash::domain::SIGNERS`]) of that digest, the number of signers (u64
/// little-endian) and their public keys in authorisation order.
///
/// So a co-signed transaction is valid only with exactly its signers, in their order: a
/// third party can neither strip a co-signature, nor add one, nor reorder them, without
/// invalidating every signature. A single-signer transaction signs the plain signing digest
/// (its one signer is already pinned by `call.from`), which no co-signed message can equal.
pub fn authorization_digest(signing_digest: &B256, signers: &[[u8; 32]]) -> B256 {
    bind_signers(signing_digest, signers.iter())
}

/// [`authorization_digest`] of a transaction: its body's signing digest bound to the public
/// keys of its authorisations.
pub fn tx_authorization_digest(tx: &Transaction) -> B256 {
    bind_signers(
        &signing_digest(&tx.body),
        tx.auths.iter().map(|a| &a.public_key),
    )
}

fn bind_signers<'a>(digest: &B256, signers: impl ExactSizeIterator<Item = &'a [u8; 32]>) -> B256 {
    if signers.len() <= 1 {
        return *digest;
    }
    let mut h = crate::hash::signers_hasher();
    h.update(digest.as_slice());
    h.update(&(signers.len() as u64).to_le_bytes());
    for k in signers {
        h.update(k);
    }
    B256::from(*h.finalize().as_bytes())
}

/// Signs `body` with `signers` (the first one must own `body.call.from`; the others are
/// co-signers, and every signer signs the list of all of them: [`authorization_digest`]).
pub fn sign(body: TxBody, signers: &[&Keypair]) -> Transaction {
    let keys: Vec<[u8; 32]> = signers.iter().map(|k| k.public_key()).collect();
    let digest = authorization_digest(&signing_digest(&body), &keys);
    let auths = signers
        .iter()
        .map(|k| Authorization {
            public_key: k.public_key(),
            signature: k.sign_digest(&digest),
        })
        .collect();
    Transaction::signed(body, auths)
}

/// A public key that passed the key checks, with its point decompressed once. Parsing costs
/// a decompression (a few microseconds): callers that see the same key often should cache it.
#[derive(Clone, Copy, Debug)]
pub struct PublicKey {
    vk: VerifyingKey,
    point: EdwardsPoint,
}

impl PublicKey {
    /// Parses and checks a key: a canonical encoding of a point of the prime-order subgroup
    /// (not of small order, and without a torsion component).
    ///
    /// A key `A + T`, with `T` one of the 7 non-zero points of small order, has the same
    /// secret scalar as `A` (the cofactored equation absorbs `T`), so one secret key would
    /// control eight "different" public keys, eight addresses and eight distinct co-signers.
    /// Honest keys (`[a]B`) never have a torsion component. The check is a scalar
    /// multiplication by the group order, paid once per key (callers that see the same key
    /// often should cache the parsed key, as the validator does).
    pub fn parse(bytes: &[u8; 32]) -> Result<PublicKey, Reason> {
        let point = CompressedEdwardsY(*bytes)
            .decompress()
            .ok_or(Reason::InvalidPublicKey)?;
        // `From<EdwardsPoint>` re-compresses: equal bytes mean the encoding was canonical.
        let vk = VerifyingKey::from(point);
        if vk.as_bytes() != bytes || point.is_small_order() || !point.is_torsion_free() {
            return Err(Reason::InvalidPublicKey);
        }
        Ok(PublicKey { vk, point })
    }
    /// The key bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        self.vk.as_bytes()
    }
    /// The address of this key.
    pub fn address(&self) -> Address {
        address_of(self.bytes())
    }
    /// Checks one signature under the verification rule of this module.
    pub fn verify(&self, message: &[u8], sig: &SignatureBytes) -> Result<(), Reason> {
        let (r_bytes, s_bytes) = split_sig(sig);
        if !r_encoding_ok(&r_bytes) {
            return Err(Reason::BadSignature);
        }
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
            .ok_or(Reason::BadSignature)?;
        let r = CompressedEdwardsY(r_bytes)
            .decompress()
            .ok_or(Reason::BadSignature)?;
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(r_bytes)
                .chain_update(self.bytes())
                .chain_update(message),
        );
        // [s]B + [k](-A) - R, times the cofactor.
        let sb_minus_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-self.point, &s);
        if (sb_minus_ka - r).mul_by_cofactor().is_identity() {
            Ok(())
        } else {
            Err(Reason::BadSignature)
        }
    }
}

fn split_sig(sig: &SignatureBytes) -> ([u8; 32], [u8; 32]) {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&sig.0[..32]);
    s.copy_from_slice(&sig.0[32..]);
    (r, s)
}

/// y-coordinates (sign bit cleared) of the eight points of small order.
fn small_order_ys() -> &'static [[u8; 32]; 8] {
    static YS: OnceLock<[[u8; 32]; 8]> = OnceLock::new();
    YS.get_or_init(|| {
        let mut ys = [[0u8; 32]; 8];
        for (y, p) in ys
            .iter_mut()
            .zip(curve25519_dalek::constants::EIGHT_TORSION.iter())
        {
            *y = p.compress().0;
            y[31] &= 0x7f;
        }
        ys
    })
}

/// R must encode its y-coordinate canonically (y < 2^255 - 19) and not be a point of small
/// order (which, for the two points with x = 0, also excludes the non-canonical "negative
/// zero" encodings). Checked on bytes, without decompressing.
fn r_encoding_ok(r: &[u8; 32]) -> bool {
    let mut y = *r;
    y[31] &= 0x7f;
    // y >= p exactly when y is 2^255-19 ..= 2^255-1: low byte >= 0xed, all others 0xff
    // (top byte 0x7f once the sign bit is cleared).
    let non_canonical = y[0] >= 0xed && y[1..31].iter().all(|b| *b == 0xff) && y[31] == 0x7f;
    !non_canonical && !small_order_ys().contains(&y)
}

/// One signature to check: key, message, signature.
#[derive(Clone, Copy, Debug)]
pub struct SigCheck<'a> {
    /// The parsed key.
    pub key: &'a PublicKey,
    /// The signed message (a signing digest).
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a SignatureBytes,
}

/// Checks many signatures at once. Returns the indices of the invalid ones (empty when all
/// are valid). The verdict of each signature is the single-verification rule of this module,
/// whatever else is in the batch.
pub fn verify_batch(items: &[SigCheck<'_>]) -> Vec<usize> {
    if items.is_empty() {
        return Vec::new();
    }
    let all_encodings_ok = items.iter().all(|c| {
        let (r, s) = split_sig(c.signature);
        r_encoding_ok(&r) && bool::from(Scalar::from_canonical_bytes(s).is_some())
    });
    if all_encodings_ok && items.len() > 1 {
        let messages: Vec<&[u8]> = items.iter().map(|c| c.message).collect();
        let sigs: Vec<ed25519_dalek::Signature> = items
            .iter()
            .map(|c| ed25519_dalek::Signature::from_bytes(&c.signature.0))
            .collect();
        let keys: Vec<VerifyingKey> = items.iter().map(|c| c.key.vk).collect();
        // The cofactorless batch equation passing implies every cofactored single equation
        // holds (except with probability ~2^-128), so acceptance needs no second look.
        if ed25519_dalek::verify_batch(&messages, &sigs, &keys).is_ok() {
            return Vec::new();
        }
    }
    items
        .iter()
        .enumerate()
        .filter(|(_, c)| c.key.verify(c.message, c.signature).is_err())
        .map(|(i, _)| i)
        .collect()
}

/// Checks the authorisations of one transaction: at least one, no key twice, every key
/// valid, `from` is the first signer's address, and every signature verifies over the
/// transaction's [`tx_authorization_digest`] (one batch per transaction). A transaction with
/// an Ethereum authorisation is checked by [`crate::eth::verify_eth_authorization`] instead.
pub fn verify_tx_signatures(tx: &Transaction) -> Result<(), Reason> {
    if tx.eth.is_some() {
        return crate::eth::verify_eth_authorization(tx).map(|_| ());
    }
    let first = tx.auths.first().ok_or(Reason::NoAuthorization)?;
    if address_of(&first.public_key) != tx.body.call.from {
        return Err(Reason::SenderNotFirstSigner);
    }
    let mut seen: Vec<&[u8; 32]> = Vec::with_capacity(tx.auths.len());
    let mut keys = Vec::with_capacity(tx.auths.len());
    for a in &tx.auths {
        if seen.contains(&&a.public_key) {
            return Err(Reason::DuplicateSigner);
        }
        seen.push(&a.public_key);
        keys.push(PublicKey::parse(&a.public_key)?);
    }
    let digest = tx_authorization_digest(tx);
    let checks: Vec<SigCheck> = keys
        .iter()
        .zip(&tx.auths)
        .map(|(key, a)| SigCheck {
            key,
            message: digest.as_slice(),
            signature: &a.signature,
        })
        .collect();
    if verify_batch(&checks).is_empty() {
        Ok(())
    } else {
        Err(Reason::BadSignature)
    }
}
