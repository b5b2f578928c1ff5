-- @schema: staging
-- @tags: [staging]
-- @description: Carrier labels with shipped and delivered timestamps derived from the raw feed.
select
    s.order_id,
    s.carrier,
    o.ordered_at + s.label_after_hours * interval '1 hour' as shipped_at,
    case
        when s.delivered
        then o.ordered_at + s.label_after_hours * interval '1 hour' + s.transit_days * interval '1 day'
    end as delivered_at,
    s.transit_days
from raw.shipments as s
join raw.orders as o using (order_id)
