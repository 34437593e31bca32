/**
 * The store's failures in the words a user needs: which id, which database,
 * and what to do. Both adapters build their errors here so that the same
 * mistake reads the same whichever database is behind it.
 */
import { NodeWardenError } from '../core/errors.ts';

export function incidentNotFound(incidentId: string): NodeWardenError {
  return new NodeWardenError('NOT_FOUND', `incident ${incidentId} does not exist`, {
    hint: 'list incidents to find the right id (nodewarden report --list)',
  });
}

export function incidentExists(incidentId: string): NodeWardenError {
  return new NodeWardenError('CONFLICT', `incident ${incidentId} already exists`, {
    hint: 'incident ids are unique: update the existing incident or pick a new id',
  });
}

export function auditExists(auditId: string): NodeWardenError {
  return new NodeWardenError('CONFLICT', `audit record ${auditId} already exists`, {
    hint: 'audit records are written once: give each action its own id',
  });
}

export function storeClosed(where: string): NodeWardenError {
  return new NodeWardenError('UNAVAILABLE', `the incident store at ${where} is closed`, {
    hint: 'open the store again (openStore) instead of reusing a closed one',
  });
}

export function schemaTooNew(where: string, found: number, known: number): NodeWardenError {
  return new NodeWardenError(
    'CONFLICT',
    `the incident store at ${where} has schema version ${found}; this NodeWarden knows up to ${known}`,
    { hint: 'run the NodeWarden version that wrote it, or a newer one; never downgrade a store' },
  );
}
