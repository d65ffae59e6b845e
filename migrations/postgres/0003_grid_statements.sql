-- The grid company's monthly settled on-grid energy per station (实际上网电量): the basis
-- of money.
CREATE TABLE grid_statements (
    station_code   TEXT NOT NULL REFERENCES stations (code),
    -- Calendar month in the configured zone, 'YYYY-MM'.
    period         TEXT NOT NULL,
    export_kwh     NUMERIC NOT NULL,
    -- Coal-benchmark money the grid company paid for the month, when the statement says.
    benchmark_paid NUMERIC,
    -- The statement's own number, for tracing.
    reference      TEXT,
    imported_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (station_code, period)
);
