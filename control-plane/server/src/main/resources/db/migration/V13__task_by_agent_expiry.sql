-- The per-agent task quota counts an agent's tasks that have not reached their expiry on every task creation.
CREATE INDEX task_by_agent_expiry ON task (agent, expires_at);
