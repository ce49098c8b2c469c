
CREATE INDEX IF NOT EXISTS projects_in_flight_deadline_idx ON projections.projects (deadline_at)
  WHERE status IN ('pending', 'processing');
CREATE INDEX IF NOT EXISTS projects_processing_lease_idx ON projections.projects (lease_expires_at)
  WHERE status = 'processing';