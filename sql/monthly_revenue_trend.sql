-- Revenue per calendar month, with the change against the month before.
-- Reads: agg_daily_sales.
-- Columns: month (first day of the month), revenue, transactions, average_order_value,
--          revenue_change_pct (null for the first month).
WITH months AS (
  SELECT CAST(date_trunc('month', dt) AS DATE) AS month,
         SUM(revenue) AS revenue,
         SUM(transactions) AS transactions,
         SUM(priced_transactions) AS priced_transactions
  FROM agg_daily_sales
  GROUP BY CAST(date_trunc('month', dt) AS DATE)
)
SELECT month,
       revenue,
       transactions,
       ROUND(CAST(revenue AS DOUBLE) / CAST(NULLIF(priced_transactions, 0) AS DOUBLE), 2) AS average_order_value,
       ROUND(100 * (CAST(revenue AS DOUBLE) - CAST(LAG(revenue) OVER (ORDER BY month) AS DOUBLE))
             / CAST(NULLIF(LAG(revenue) OVER (ORDER BY month), 0) AS DOUBLE), 2) AS revenue_change_pct
FROM months
ORDER BY month
