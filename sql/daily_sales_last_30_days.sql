-- The daily sales report for the last 30 days of data (ending on the latest day with sales).
-- Reads: agg_daily_sales, dim_date.
-- Columns: dt, weekday_name, revenue, transactions, units, unique_customers, average_order_value.
SELECT s.dt,
       d.weekday_name,
       s.revenue,
       s.transactions,
       s.units,
       s.unique_customers,
       s.average_order_value
FROM agg_daily_sales s
LEFT JOIN dim_date d ON d.calendar_date = s.dt
WHERE s.dt > (SELECT MAX(dt) FROM agg_daily_sales) - INTERVAL '30' DAY
ORDER BY s.dt DESC
