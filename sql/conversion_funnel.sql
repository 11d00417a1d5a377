-- The clickstream conversion funnel over the last 30 days of data: sessions reaching each
-- step (a session reaches a step when it reached the previous one), and conversion rates.
-- Reads: funnel_daily.
-- Columns: sessions, product_view_sessions, add_to_cart_sessions, checkout_sessions,
--          purchase_sessions, view_rate_pct, cart_rate_pct, checkout_rate_pct,
--          purchase_rate_pct, conversion_rate_pct.
WITH f AS (
  SELECT SUM(sessions) AS sessions,
         SUM(product_view_sessions) AS product_view_sessions,
         SUM(add_to_cart_sessions) AS add_to_cart_sessions,
         SUM(checkout_sessions) AS checkout_sessions,
         SUM(purchase_sessions) AS purchase_sessions
  FROM funnel_daily
  WHERE dt > (SELECT MAX(dt) FROM funnel_daily) - INTERVAL '30' DAY
)
SELECT sessions,
       product_view_sessions,
       add_to_cart_sessions,
       checkout_sessions,
       purchase_sessions,
       ROUND(100.0 * CAST(product_view_sessions AS DOUBLE) / CAST(NULLIF(sessions, 0) AS DOUBLE), 2) AS view_rate_pct,
       ROUND(100.0 * CAST(add_to_cart_sessions AS DOUBLE) / CAST(NULLIF(product_view_sessions, 0) AS DOUBLE), 2) AS cart_rate_pct,
       ROUND(100.0 * CAST(checkout_sessions AS DOUBLE) / CAST(NULLIF(add_to_cart_sessions, 0) AS DOUBLE), 2) AS checkout_rate_pct,
       ROUND(100.0 * CAST(purchase_sessions AS DOUBLE) / CAST(NULLIF(checkout_sessions, 0) AS DOUBLE), 2) AS purchase_rate_pct,
       ROUND(100.0 * CAST(purchase_sessions AS DOUBLE) / CAST(NULLIF(sessions, 0) AS DOUBLE), 2) AS conversion_rate_pct
FROM f
