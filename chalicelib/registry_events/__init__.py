"""Changes in the population register (R-32): custody, protected identity, death; from the register's
feed (`POST /integrations/population-events`, the population events queue)."""
