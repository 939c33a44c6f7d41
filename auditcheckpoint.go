package iogate

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strconv"
	"time"
)

// AuditCheckpoint replaces the records of an account that retention pruned. It holds
// the sequence number and hash of the last pruned record, signed under the audit chain key,
// so that the chain still verifies from the first record kept: that record must link to
// the checkpoint's hash, and the checkpoint's signature must match. Someone who can write
// to the database but does not hold the master key can therefore not hide an edit by
// moving the checkpoint.
type AuditCheckpoint struct {
	AccountID string    `json:"accountId"`
	Seq       int64     `json:"seq"`
	Hash      AuditHash `json:"hash"`
	// RecordTime is the time of the record at Seq, the newest one pruned.
	RecordTime time.Time `json:"recordTime"`
	CreatedAt  time.Time `json:"createdAt"`
	Signature  AuditHash `json:"signature"`
}

// NewCheckpoint returns a signed checkpoint that replaces the records of r's account up to
// and including r.
func (c *AuditChain) NewCheckpoint(r *AuditRecord, now time.Time) *AuditCheckpoint {
	cp := &AuditCheckpoint{
		AccountID:  r.AccountID,
		Seq:        r.Seq,
		Hash:       r.Hash,
		RecordTime: r.Time.UTC().Truncate(time.Microsecond),
		CreatedAt:  now.UTC().Truncate(time.Microsecond),
	}
	cp.Signature = c.checkpointMAC(cp)
	return cp
}

// checkpointMAC returns the HMAC of every field of cp but its signature, under a label of
// its own so that a checkpoint can never pass for a record.
func (c *AuditChain) checkpointMAC(cp *AuditCheckpoint) AuditHash {
	m := hmac.New(sha256.New, c.key)
	for _, field := range []string{
		"iogate-audit-checkpoint-v1",
		cp.AccountID,
		strconv.FormatInt(cp.Seq, 10),
		string(cp.Hash[:]),
		strconv.FormatInt(cp.RecordTime.UnixMicro(), 10),
		strconv.FormatInt(cp.CreatedAt.UnixMicro(), 10),
	} {
		writeField(m, field)
	}
	var h AuditHash
	m.Sum(h[:0])
	return h
}

// Start makes the verifier continue cp's account from the checkpoint instead of from its
// first record. It returns an *AuditChainError when the signature does not match, that is
// when the checkpoint was edited or written without the chain key. Call it before adding
// the account's records.
func (v *AuditVerifier) Start(cp *AuditCheckpoint) error {
	want := v.chain.checkpointMAC(cp)
	if !hmac.Equal(want[:], cp.Signature[:]) {
		return &AuditChainError{AccountID: cp.AccountID, Seq: cp.Seq, ID: "checkpoint",
			Problem: "the retention checkpoint's signature does not match: the checkpoint was edited"}
	}
	if _, seen := v.heads[cp.AccountID]; seen {
		return fmt.Errorf("audit verifier: checkpoint of account %s given after its records", cp.AccountID)
	}
	v.heads[cp.AccountID] = &AuditHead{AccountID: cp.AccountID, Seq: cp.Seq, Hash: cp.Hash}
	v.order = append(v.order, cp.AccountID)
	return nil
}

// CheckPrune is the check that stores make before pruning with cp, given the account's
// newest record sequence number, the stored checkpoint's (0 when none) and the hash stored
// for the record at cp.Seq (nil when there is none). It rejects with CodeInvalid a
// checkpoint that would delete the newest record or that does not match the record it
// claims to cover. It rejects with CodeConflict one that is not above the stored
// checkpoint, as happens when another node pruned first.
func (cp *AuditCheckpoint) CheckPrune(newest, stored int64, hash []byte) error {
	switch {
	case cp.Seq >= newest:
		return Errorf(CodeInvalid, "audit checkpoint at record %d would prune the newest record %d of account %s", cp.Seq, newest, cp.AccountID)
	case cp.Seq <= stored:
		return Errorf(CodeConflict, "audit checkpoint at record %d is not above the stored one at %d", cp.Seq, stored)
	case !hmac.Equal(hash, cp.Hash[:]):
		return Errorf(CodeInvalid, "audit checkpoint at record %d does not match that record's hash", cp.Seq)
	}
	return nil
}
