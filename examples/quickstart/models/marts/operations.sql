-- @name: delivery_performance
-- @schema: marts
-- @tags: [operations]
-- @description: "Shipments per carrier and region: transit time, on-time and delivered rates."
select
    carrier,
    region,
    count(*) as shipments,
    round(avg(transit_days), 2) as avg_transit_days,
    round(avg(case when transit_days <= 2 then 1 else 0 end), 4) as on_time_rate,
    round(avg(case when delivered_at is not null then 1 else 0 end), 4) as delivered_rate
from orders_enriched
where carrier is not null
group by carrier, region
order by carrier, region
