// A cheap lit material for the software rasteriser: Lambert diffuse from one
// key light, a sky/ground hemisphere ambient and a Blinn-Phong highlight. No
// textures (texture sampling dominates bevy's PBR shader on llvmpipe).
#import bevy_pbr::forward_io::VertexOutput
#import bevy_pbr::mesh_view_bindings::view

struct SimpleLit {
    // Linear RGBA.
    color: vec4<f32>,
    // Towards the key light (world), w unused.
    light_direction: vec4<f32>,
    // x: ambient, y: diffuse, z: specular strength, w: shininess.
    shading: vec4<f32>,
};

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> material: SimpleLit;

@fragment
fn fragment(in: VertexOutput, @builtin(front_facing) front_facing: bool) -> @location(0) vec4<f32> {
    var n = normalize(in.world_normal);
    if !front_facing {
        n = -n;
    }
    let l = normalize(material.light_direction.xyz);
    let v = normalize(view.world_position - in.world_position.xyz);
    let h = normalize(l + v);
    let diffuse = max(dot(n, l), 0.0);
    // Brighter from the sky than from the ground: shapes read without shadows.
    let hemisphere = mix(0.55, 1.0, 0.5 + 0.5 * n.y);
    let specular = pow(max(dot(n, h), 0.0), material.shading.w) * material.shading.z * step(0.0, dot(n, l));
    let rgb = material.color.rgb * (material.shading.x * hemisphere + material.shading.y * diffuse) + vec3<f32>(specular);
    return vec4<f32>(rgb, material.color.a);
}
