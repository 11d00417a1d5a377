-- Customer lifetime value by RFM segment (recency, frequency, monetary quintiles, as of the
-- last gold build).
-- Reads: customer_ltv.
-- Columns: segment, customers, share_of_customers_pct, total_revenue, average_lifetime_value,
--          average_orders, average_recency_days.
SELECT segment,
       COUNT(*) AS customers,
       ROUND(100.0 * CAST(COUNT(*) AS DOUBLE) / CAST(SUM(COUNT(*)) OVER () AS DOUBLE), 2) AS share_of_customers_pct,
       SUM(revenue) AS total_revenue,
       ROUND(AVG(CAST(revenue AS DOUBLE)), 2) AS average_lifetime_value,
       ROUND(AVG(CAST(orders AS DOUBLE)), 2) AS average_orders,
       ROUND(AVG(CAST(recency_days AS DOUBLE)), 1) AS average_recency_days
FROM customer_ltv
GROUP BY segment
ORDER BY total_revenue DESC, segment
